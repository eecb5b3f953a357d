"""Webcam pipeline benchmark: 640x480 at 30 fps from a video file, capture + write + expression.

    .venv/bin/python bench/bench_webcam.py [--seconds 60]

A video of the astronaut photograph (scikit-image's, with mouth-corner
warps so the face mesh has work to do) is played by the webcam device at
its own 30 fps, exactly as a camera would deliver it; the device writes the
MKV file, pushes VideoFrames and FacialExpression on LSL. Reported: frames
per second achieved, dropped frames, latency from the capture stamp to the
FacialExpression push (the last push of a frame) p50/p99, and the CPU the
process used (user + system seconds over wall seconds = cores).
Budget: keeps up with 30 fps using under 1 core.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import use_lsl_config  # noqa: E402

use_lsl_config()

import numpy as np  # noqa: E402

from devices.webcam_device import WebcamDevice, WebcamSettings  # noqa: E402
from tests.astronaut_video import FPS, smile_levels, write_video  # noqa: E402


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the played video (default 60)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("making the test video ...", flush=True)
        levels = list(smile_levels((-8.0, -4.0, 0.0, 4.0)).values())
        n = int(args.seconds * FPS)
        frames = [levels[(i // 15) % len(levels)] for i in range(n)]  # a new expression every half second
        video = write_video(folder / "astronaut_640x480_30fps.avi", frames)
        saved = folder / "bench_video.mkv"
        device = WebcamDevice(WebcamSettings(video=video, save_video=saved, name="BenchWebcam",
                                             source_id="attune-bench-webcam"), linger=0.0)
        wall0, cpu0 = time.perf_counter(), cpu_seconds()
        device.start()
        while device.is_alive():
            device.join(5.0)
            print(f"  {device.stats.frames}/{n} frames", flush=True)
        wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
        if device.error is not None:
            print(f"error: {device.error}", file=sys.stderr)
            return 1
        stats = device.stats
        lat = np.array(stats.latencies) * 1000
        load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
        print(f"machine: {platform.node()} {os.cpu_count()} cores{load}")
        print(f"video: {n} frames 640x480 @ {FPS:g} fps, method {device.estimator.method if device.estimator else '-'}")
        print(f"frames written {stats.frames}, dropped {stats.dropped} ({100 * stats.dropped / n:.2f} %)")
        print(f"fps achieved {stats.measured_fps:.2f} (frames+drops over capture span); "
              f"written frames / wall {stats.frames / wall:.2f}")
        print(f"capture -> FacialExpression push latency: p50 {np.percentile(lat, 50):.1f} ms, "
              f"p99 {np.percentile(lat, 99):.1f} ms, max {lat.max():.1f} ms")
        print(f"CPU: {cpu:.1f} s over {wall:.1f} s = {cpu / wall:.2f} cores (budget < 1 core)")
        print(f"video file: {saved.stat().st_size / stats.frames / 1024:.1f} kB/frame")
        return 0 if cpu / wall < 1.0 and stats.dropped < 0.01 * n else 1


if __name__ == "__main__":
    sys.exit(main())
