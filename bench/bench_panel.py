"""Control panel under load: redraw rate, GUI-thread stalls, CPU, and nothing lost.

    python bench/bench_panel.py [--seconds 30]

The "lab" scenario runs in its own process (``main.py simulate``): eye
tracker 1200 Hz x 8 float32, GSR 128 Hz, webcam 30 Hz with expression
scores, markers about 2 per second. This process opens the panel
offscreen, records everything with all plots live, and measures:

- frames: plot redraws per second (the frame timer asks for 30);
- stalls: a 5 ms timer on the GUI thread; how late it fires (max, 99th
  percentile) is how long the GUI thread was ever busy or blocked;
- CPU: this process's CPU time over wall time (100 % = one core);
- loss: the recorded file is checked sample by sample: regular streams
  have one sample per nominal period with no holes between the first and
  last sample, frame indices and marker numbers have no gaps;
- against headless: ``main.py record`` records the same sources side by
  side; over the time both recorded, the two files must hold exactly the
  same sample stamps, stream by stream.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from configs import use_lsl_config  # noqa: E402

use_lsl_config()


def lab_yaml(folder: Path, tag: str) -> Path:
    path = folder / "devices.yaml"
    path.write_text(f"""
eyetracker: {{rate: 1200, name: BenchEye, source_id: {tag}-eye}}
gsr: {{rate: 128, name: BenchGSR, source_id: {tag}-gsr}}
webcam: {{rate: 30, name: BenchCam, source_id: {tag}-cam, expression: true}}
markers: {{enabled: true, rate: 2, name: BenchMarkers, source_id: {tag}-mk}}
""")
    return path


def check_stream(stream: dict) -> tuple[int, int, str]:
    """(samples, missing, how it was checked) for one recorded stream."""
    info = stream["info"]
    stamps = np.asarray(stream["time_stamps"])
    rate = float(info["nominal_srate"][0])
    n = len(stamps)
    if info["type"][0] == "VideoFrames":
        frames = np.asarray(stream["time_series"])[:, 0].astype(np.int64)
        return n, int(frames[-1] - frames[0] + 1 - n), "frame index"
    if info["channel_format"][0] == "string":
        numbers = [int(v[0].split()[-1]) for v in stream["time_series"] if v[0].startswith("sim_event")]
        return n, (numbers[-1] - numbers[0] + 1 - len(numbers)) if numbers else 0, "marker number"
    expected = int(round((stamps[-1] - stamps[0]) * rate)) + 1
    return n, expected - n, f"one sample per 1/{rate:g} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="recording length (default 30)")
    parser.add_argument("--profile", type=Path, metavar="FILE.prof",
                        help="also profile the GUI thread (cProfile) over the measured span")
    args = parser.parse_args()

    tag = f"bench{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="attune-bench-panel-"))
    sources = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "simulate", "--devices",
                                str(lab_yaml(tmp, tag)), "--duration", str(args.seconds + 20)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return run_panel(args.seconds, tag, tmp, args.profile)
    finally:
        sources.terminate()
        sources.wait(10)


def run_panel(seconds: float, tag: str, tmp: Path, profile: Path | None = None) -> int:
    import pylsl
    import pyxdf
    from PyQt6.QtCore import Qt, QTimer
    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from gui.panel import ControlPanel

    panel = ControlPanel(root=tmp / "rec", marker_endpoint="tcp://127.0.0.1:*",
                         queries=[f"contains(source_id,'{tag}')"])
    panel.show()
    for box, _ in panel.recording.required_boxes:
        box.setChecked(box.text() in ("Eye tracker", "GSR", "Webcam"))

    def pump(until, limit: float) -> bool:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            app.processEvents()
            if until():
                return True
            time.sleep(0.002)
        return False

    names = ["BenchEye", "BenchGSR", "BenchCam", "BenchCamExpression", "BenchMarkers"]
    if not pump(lambda: all(panel.streams.status_of(n) == "receiving" for n in names), 20.0):
        print("the simulated lab did not appear:", [(r.name, r.status) for r in panel.streams.rows])
        return 1
    headless_path = tmp / "headless.xdf"
    headless = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "record", "--out", str(headless_path),
                                 "--query", f"contains(source_id,'{tag}')", "--markers", "off"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    panel.start_recording()
    pump(lambda: panel.job.snapshot.state == "recording", 5.0)

    late: list[float] = []
    last = [time.perf_counter()]
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)

    def tick() -> None:
        now = time.perf_counter()
        late.append(now - last[0] - 0.005)
        last[0] = now
    probe.timeout.connect(tick)
    pump(lambda: False, 2.0)  # settle: the recorder takes the streams over from the live inlets

    profiler = None
    if profile is not None:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    frames0, cpu0, gui0, wall0 = panel.plots.frames, time.process_time(), time.thread_time(), time.perf_counter()
    last[0] = time.perf_counter()
    probe.start(5)
    QTimer.singleShot(int(seconds * 1000), lambda: app.exit(0))  # exit, not quit: quit would close the window
    app.exec()  # the panel's own event loop, as `main.py gui` runs it (a polling loop here would cost CPU itself)
    probe.stop()
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    gui_cpu = time.thread_time() - gui0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    frames = panel.plots.frames - frames0

    panel.job.stop()
    headless.send_signal(signal.SIGINT)
    pump(lambda: not panel.job.snapshot.active, 10.0)
    headless.wait(15)
    path = panel.job.snapshot.path
    panel.shutdown()

    lateness = np.array(late[1:]) * 1000
    print(f"recorded {seconds:.0f} s of the lab scenario with all plots live (offscreen), {path.stat().st_size / 1e6:.1f} MB")
    print(f"redraws:        {frames / wall:.1f} frames/s ({frames} in {wall:.1f} s)")
    print(f"GUI stall:      max {lateness.max():.1f} ms, 99th percentile {np.percentile(lateness, 99):.1f} ms, "
          f"median {np.median(lateness):.2f} ms (5 ms probe timer lateness, {len(lateness)} ticks)")
    print(f"panel CPU:      {100 * gui_cpu / wall:.0f} % of one core on the GUI thread (plots, tables, "
          f"events); {100 * cpu / wall:.0f} % for the whole process, recorder and live inlets included")
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False, synchronize_clocks=False)
    lost_any = False
    for s in sorted(streams, key=lambda s: s["info"]["name"][0]):
        n, missing, how = check_stream(s)
        lost_any |= missing != 0
        print(f"  {s['info']['name'][0]:<20} {n:>8} samples, {missing} missing ({how})")
    print("loss:           " + ("SAMPLES MISSING" if lost_any else "none"))
    differ = compare_with_headless(streams, headless_path)
    print("vs headless:    " + ("DIFFERENT: " + ", ".join(differ) if differ else
                                "identical samples over the common time span, every stream"))
    del pylsl
    return 1 if lost_any or differ else 0


def compare_with_headless(panel_streams: list[dict], headless_path: Path) -> list[str]:
    """Streams whose stamps differ from the headless recording where both were recording."""
    import pyxdf

    headless, _ = pyxdf.load_xdf(str(headless_path), dejitter_timestamps=False, synchronize_clocks=False)
    theirs = {s["info"]["name"][0]: np.asarray(s["time_stamps"]) for s in headless}
    differ = []
    for s in panel_streams:
        name = s["info"]["name"][0]
        ours, other = np.asarray(s["time_stamps"]), theirs.get(name)
        if other is None or not len(ours) or not len(other):
            differ.append(f"{name} (missing)")
            continue
        lo, hi = max(ours[0], other[0]), min(ours[-1], other[-1])
        a, b = ours[(ours >= lo) & (ours <= hi)], other[(other >= lo) & (other <= hi)]
        if len(a) != len(b) or not np.array_equal(a, b):
            differ.append(f"{name} ({len(a)} vs {len(b)} samples)")
        else:
            print(f"  {name:<20} {len(a):>8} samples in both files over {hi - lo:.1f} s")
    return differ


if __name__ == "__main__":
    sys.exit(main())
