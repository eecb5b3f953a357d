"""Replay and analysis benchmark (run on demand, not in CI).

    .venv/bin/python bench/bench_replay.py [--seconds 30] [--hours 1.0] [--out bench/out]

1. Replay timing at 1x, lab scenario (eye tracker 1200 Hz x 8, GSR 128 Hz,
   webcam 30 Hz + expression, markers): a recording of the simulated lab is
   replayed and recorded again; p99 of |replayed - original| relative stamp,
   and p99 of delivery lateness (arrival at an inlet minus the sample's stamp).
2. A synthetic hour of the lab scenario written with the XDF writer; the
   player's start-up time (construct + outlets + first sample pushed) and
   peak memory while playing; ``main.py analyze`` wall time and peak memory,
   and how much of it is pyxdf's load.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from configs import use_lsl_config  # noqa: E402

use_lsl_config()

import numpy as np  # noqa: E402
import pylsl  # noqa: E402


def p99(values: np.ndarray) -> float:
    return float(np.percentile(values, 99)) if len(values) else float("nan")


def record(path: Path, predicate: str, until) -> None:
    from acquisition.recorder import Recorder

    found = pylsl.resolve_bypred(predicate, 0, 1.5)
    recorder = Recorder(path, [predicate])
    recorder.start(found)
    for reader in recorder.readers.values():
        reader.opened.wait(5.0)
    until()
    time.sleep(0.5)
    recorder.stop()


class Lateness(threading.Thread):
    """Pulls one replayed stream as fast as it can and notes arrival minus stamp."""

    def __init__(self, info: pylsl.StreamInfo) -> None:
        super().__init__(daemon=True)
        self.inlet = pylsl.StreamInlet(info, max_buflen=60)
        self.inlet.open_stream(timeout=5.0)
        self.stop = threading.Event()
        self.late: list[np.ndarray] = []

    def run(self) -> None:
        while not self.stop.is_set():
            _, stamps = self.inlet.pull_chunk(timeout=0.002, max_samples=4096)
            if stamps:
                self.late.append(pylsl.local_clock() - np.asarray(stamps))


def replay_timing(folder: Path, seconds: float) -> dict:
    import pyxdf

    from acquisition.player import Player
    from devices.lab import DeviceConfig, SimulatedLab

    tag = f"bench{uuid.uuid4().hex[:6]}"
    configs = [DeviceConfig("eyetracker", 1200, f"{tag}Eye", f"{tag}-eye", 1),
               DeviceConfig("gsr", 128, f"{tag}GSR", f"{tag}-gsr", 2),
               DeviceConfig("webcam", 30, f"{tag}Cam", f"{tag}-cam", 3, {"expression": True}),
               DeviceConfig("markers", 2, f"{tag}Mark", f"{tag}-mark", 4)]
    predicate = f"starts-with(name,'{tag}')"
    original, copy = folder / f"{tag}_original.xdf", folder / f"{tag}_replay.xdf"
    lab = SimulatedLab(configs)
    lab.start()
    try:
        record(original, predicate, lambda: time.sleep(seconds))
    finally:
        lab.stop()
    time.sleep(1.0)
    player = Player(original)
    player.open()
    gaze_info = pylsl.resolve_bypred(f"name='{tag}Eye'", 1, 2.0)[0]
    late = Lateness(gaze_info)
    late.start()

    def play() -> None:
        player.play()
        player.wait(seconds * 2 + 10)

    record(copy, predicate, play)
    late.stop.set()
    late.join()
    player.close()
    a, _ = pyxdf.load_xdf(str(original), dejitter_timestamps=False)
    b, _ = pyxdf.load_xdf(str(copy), dejitter_timestamps=False)
    a = {s["info"]["name"][0]: s for s in a}
    b = {s["info"]["name"][0]: s for s in b}
    ta = min(s["time_stamps"][0] for s in a.values())
    tb = min(s["time_stamps"][0] for s in b.values())
    errors, per_stream = [], {}
    for name, sa in a.items():
        sb = b[name]
        n = min(len(sa["time_stamps"]), len(sb["time_stamps"]))
        err = np.abs((sb["time_stamps"][:n] - tb) - (sa["time_stamps"][:n] - ta))
        errors.append(err)
        per_stream[name.removeprefix(tag)] = {"samples": len(sa["time_stamps"]), "replayed": len(sb["time_stamps"]),
                                               "p99_ms": round(p99(err) * 1e3, 4)}
    lateness = np.concatenate(late.late) if late.late else np.array([])
    return {"seconds": seconds, "streams": per_stream,
            "stamp_error_p99_ms": round(p99(np.concatenate(errors)) * 1e3, 4),
            "stamp_error_max_ms": round(float(np.concatenate(errors).max()) * 1e3, 4),
            "delivery_lateness_p50_ms": round(float(np.median(lateness)) * 1e3, 3) if len(lateness) else None,
            "delivery_lateness_p99_ms": round(p99(lateness) * 1e3, 3)}


def synthesise_hour(path: Path, hours: float) -> dict:
    from tools.synthetic import synthesise

    began = time.monotonic()
    faces = int(hours * 3600 / 3.1)  # a face every ~3.1 s at the protocol's timing
    truth = synthesise(path, faces=faces, iti=0.5, gaze_rate=1200.0, spontaneous_per_min=3.0)
    return {"faces": faces, "duration_s": round(truth.duration, 1), "size_mb": round(path.stat().st_size / 2**20, 1),
            "synthesis_s": round(time.monotonic() - began, 1)}


def probe_player(path: str) -> None:
    """Child process: start-up time and peak memory of the player on ``path`` (prints JSON)."""
    from acquisition.player import Player

    began = time.monotonic()
    player = Player(path)
    indexed = time.monotonic() - began
    player.open()
    player.play()
    while sum(player.pushed().values()) == 0:
        time.sleep(0.001)
    startup = time.monotonic() - began
    time.sleep(10.0)
    pushed = sum(player.pushed().values())
    player.seek(player.duration / 2)
    time.sleep(2.0)
    player.close()
    chunks = sum(s.chunk_count for s in player.index.streams.values())
    print(json.dumps({"index_s": round(indexed, 3), "startup_s": round(startup, 3), "chunks": chunks,
                      "samples_in_10s": pushed,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def child(args: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a child; returns it, its wall time and the peak RSS (MB) of the largest child so far."""
    began = time.monotonic()
    run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - began
    return run, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def pyxdf_load_time(path: Path) -> float:
    code = f"import time, pyxdf; t=time.monotonic(); pyxdf.load_xdf({str(path)!r}); print(time.monotonic()-t)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return float(run.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the real-time replay test")
    parser.add_argument("--hours", type=float, default=1.0, help="length of the synthetic recording")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--probe-player", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_player:
        probe_player(args.probe_player)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    results = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {platform.processor() or ''} "
               f"{len(__import__('os').sched_getaffinity(0))} cores", "python": platform.python_version()}
    print(f"replay timing at 1x, {args.seconds:g} s of the lab scenario ...", file=sys.stderr)
    results["replay"] = replay_timing(args.out, args.seconds)
    print(json.dumps(results["replay"], indent=1), file=sys.stderr)
    hour = args.out / f"sub-bench_ses-01_task-rating_run-{uuid.uuid4().hex[:6]}.xdf"
    print(f"synthesising {args.hours:g} h ...", file=sys.stderr)
    results["hour"] = synthesise_hour(hour, args.hours)
    print(json.dumps(results["hour"]), file=sys.stderr)
    run, wall, _ = child([sys.executable, __file__, "--probe-player", str(hour)])
    results["player"] = json.loads(run.stdout.strip().splitlines()[-1]) if run.returncode == 0 else run.stderr[-500:]
    print(json.dumps(results["player"]), file=sys.stderr)
    results["pyxdf_load_s"] = round(pyxdf_load_time(hour), 1)
    run, wall, rss = child([sys.executable, "main.py", "analyze", str(hour), "--out", str(args.out / "analysis_hour")])
    results["analyze"] = {"wall_s": round(wall, 1), "peak_rss_mb": round(rss, 1), "returncode": run.returncode,
                          "stderr_tail": run.stderr.strip().splitlines()[-2:]}
    print(json.dumps(results, indent=1))
    hour.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
