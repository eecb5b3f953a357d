"""Camera preview cost: what the panel's preview adds to the capture loop and to the GUI thread.

    .venv/bin/python bench/bench_preview.py [--frames 3000]

Capture side: FramePreview.offer() on every 640x480 frame of the astronaut
photograph at 30 fps (every 6th frame is shrunk to 160x120 and converted to
RGB), as mean microseconds per frame offered and per frame kept. GUI side:
one refresh of the panel's preview label (QImage from the small frame,
QPixmap, setPixmap), 5 times a second. Offscreen Qt; figures go in
docs/devices.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from devices.preview import FramePreview  # noqa: E402
from gui.camera_preview import CameraPreview  # noqa: E402
from tests.astronaut_video import base_frame  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    frames = [np.clip(base_frame().astype(np.int16) + rng.integers(-3, 4, (480, 640, 3)), 0, 255).astype(np.uint8)
              for _ in range(10)]
    preview = FramePreview(fps=30.0)
    start = time.perf_counter()
    for k in range(args.frames):
        preview.offer(frames[k % len(frames)])
    capture = time.perf_counter() - start
    kept = preview.count
    label = CameraPreview()
    label.show()
    shown = []
    for k in range(max(1, args.frames // preview.every)):
        preview.offer(frames[k % len(frames)])
        for _ in range(preview.every - 1):
            preview.offer(frames[0])
        t = time.perf_counter()
        label.show_preview(preview)
        app.processEvents()
        shown.append(time.perf_counter() - t)
    print(f"capture side: {1e6 * capture / args.frames:.1f} us per 640x480 frame offered "
          f"({1e6 * capture / kept:.0f} us per kept frame, 1 in {preview.every}); "
          f"{100 * capture / args.frames * 30:.2f} % of one core at 30 fps")
    ms = np.array(shown) * 1000
    print(f"GUI side: preview refresh p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms "
          f"({len(ms)} refreshes; at 5 per second {np.percentile(ms, 50) * 5 / 10:.3f} % of the GUI thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
