"""Stimulus onset timing: scheduled vs shown frames, and marker stamps vs frame swaps.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_onsets.py [--trials 200] [--speed 10]

Runs the rating task (built-in faces, simulated participant) for ``--trials``
trials in the stimulus window, sending every marker through the real marker
bus (MarkerClient -> MarkerServer -> Recorder XDF file), then reads the file
back with pyxdf. Durations are divided by ``--speed``; onset timing does not
depend on it, only the run time does. Reported, in milliseconds:

- face onset late vs schedule: frame swap of the face minus the time the
  protocol asked for it (fixation onset + that trial's jittered fixation);
- request -> swap: from the window being asked for a screen to the swap of
  the frame that shows it, for every screen of the run;
- marker - swap: recorded XDF stamp of each visual-onset marker minus the
  swap time of its frame (0 means the marker carries the frame's time);
- send delay: from the frame swap to the moment the task handed the marker
  to the bus (how long after the frame the software got around to it).

On the offscreen platform a "swap" is the software renderer finishing a
frame in memory: no vsync, no display. A real monitor adds its own fixed lag
and refresh quantisation, which only a photodiode on the screen measures.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import use_lsl_config  # noqa: E402

use_lsl_config()
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pylsl  # noqa: E402
import pyxdf  # noqa: E402
import yaml  # noqa: E402

from acquisition.recorder import Recorder  # noqa: E402
from stimulus.participant import SimulatedParticipant  # noqa: E402
from stimulus.protocol import load_protocol  # noqa: E402
from stimulus.runner import run_protocol  # noqa: E402
from stimulus.window import StimulusWindow, ensure_app  # noqa: E402
from sync.client import MarkerClient  # noqa: E402
from sync.server import MarkerServer  # noqa: E402

VISUAL_ONSETS = ("fixation_onset", "face_onset", "rating_onset", "rating_offset", "instructions_onset",
                 "instructions_offset", "break_onset", "break_offset", "protocol_end")


class StampedSink:
    """Forwards to the marker client and notes when each marker was handed over."""

    def __init__(self, client: MarkerClient) -> None:
        self.client = client
        self.handed: list[float] = []

    def send(self, event: str, timestamp: float | None = None, **fields) -> None:
        self.handed.append(pylsl.local_clock())
        self.client.send(event, timestamp=timestamp, **fields)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]

    return {"n": len(ordered), "min": ordered[0], "p50": q(50), "p95": q(95), "p99": q(99), "max": ordered[-1],
            "mean": statistics.fmean(ordered)}


def bench_protocol(folder: Path, trials: int) -> Path:
    data = yaml.safe_load((ROOT / "configs/protocols/infant_face_rating.yaml").read_text(encoding="utf-8"))
    data["instructions"] = ""
    data["blocks"] = [{"name": "bench", "trials": trials}]
    path = folder / "bench_onsets.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))

    ensure_app()
    tmp = Path(tempfile.mkdtemp(prefix="attune-onsets-"))
    protocol = load_protocol(bench_protocol(tmp, args.trials))
    tag = f"bench{uuid.uuid4().hex[:8]}"
    recorder = Recorder(tmp / "onsets.xdf", [f"name='{tag}-no-lsl-stream'"])
    recorder.start()
    server = MarkerServer(recorder, "tcp://127.0.0.1:*", relay=False).start()
    client = MarkerClient(server.endpoint, sender_id=tag)
    sink = StampedSink(client)
    window = StimulusWindow(protocol.display)
    window.open(windowed=True, size=(w, h))
    try:
        result = run_protocol(protocol, sink, participant=SimulatedParticipant(), window=window, speed=args.speed)
    finally:
        undelivered = client.close(5.0)
        server.stop()
        recorder.stop()
        window.close()

    streams, _ = pyxdf.load_xdf(str(recorder.path), synchronize_clocks=False, dejitter_timestamps=False)
    stream = next(s for s in streams if s["info"]["name"][0] == f"AttuneMarkers-{tag}")
    recorded = [(json.loads(v[0]), float(t)) for v, t in zip(stream["time_series"], stream["time_stamps"])]
    swaps = sorted(f.swapped for f in window.frames if f.swapped is not None)
    swap_set = set(swaps)

    def nearest_swap(t: float) -> float:
        return min(swaps, key=lambda s: abs(s - t))

    fixations = {(m.get("block"), m.get("trial")): m for m in result.markers if m.event == "fixation_onset"}
    late = [1000 * (m.timestamp - (fixations[(m.get("block"), m.get("trial"))].timestamp
                                   + fixations[(m.get("block"), m.get("trial"))].get("duration") / args.speed))
            for m in result.markers if m.event == "face_onset"]
    request_to_swap = [1000 * (f.swapped - f.requested) for f in window.frames if f.swapped is not None]
    marker_vs_swap = [1000 * (t - nearest_swap(t)) for e, t in recorded if e["event"] in VISUAL_ONSETS]
    exact = sum(1 for e, t in recorded if e["event"] in VISUAL_ONSETS and t in swap_set)
    send_delay = [1000 * (handed - m.timestamp) for m, handed in zip(result.markers, sink.handed)
                  if m.event in VISUAL_ONSETS]

    figures = {
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Qt platform {os.environ['QT_QPA_PLATFORM']}",
        "trials": len(result.trials), "speed": args.speed, "window": args.size,
        "markers_sent": len(result.markers), "markers_recorded": len(recorded), "undelivered": len(undelivered),
        "visual_markers_on_a_swap": f"{exact}/{len(marker_vs_swap)}",
        "face_onset_late_vs_schedule_ms": percentiles(late),
        "request_to_swap_ms": percentiles(request_to_swap),
        "marker_minus_swap_ms": percentiles(marker_vs_swap),
        "send_delay_after_swap_ms": percentiles(send_delay),
    }
    print(f"{figures['date']}  {figures['machine']}  {figures['trials']} trials at speed {args.speed}, "
          f"window {args.size}")
    print(f"markers: {len(result.markers)} sent, {len(recorded)} in the XDF file, {len(undelivered)} undelivered; "
          f"visual-onset markers stamped with a swap time: {exact}/{len(marker_vs_swap)}")
    print(f"{'ms':34s} {'n':>5s} {'min':>8s} {'p50':>8s} {'p95':>8s} {'p99':>8s} {'max':>8s}")
    for key in ("face_onset_late_vs_schedule_ms", "request_to_swap_ms", "marker_minus_swap_ms",
                "send_delay_after_swap_ms"):
        f = figures[key]
        print(f"{key[:-3].replace('_', ' '):34s} {f['n']:5d} {f['min']:8.3f} {f['p50']:8.3f} {f['p95']:8.3f} {f['p99']:8.3f} "
              f"{f['max']:8.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if not undelivered and len(recorded) == len(result.markers) else 1


if __name__ == "__main__":
    sys.exit(main())
