"""A camera preview for the control panel that costs the capture loop next to nothing.

The capture thread offers every frame; only every Nth (N from the frame rate,
so about ``PREVIEW_FPS`` a second) is shrunk to fit ``PREVIEW_SIZE``,
converted to RGB and kept as the latest frame. The panel reads the latest
frame on its own timer. Nothing here knows about Qt (devices/ never imports
gui/), and nothing waits: the panel never holds up the capture loop, and the
capture loop never holds up the plots.
"""
from __future__ import annotations

import threading

import numpy as np

from devices.opencv import cv2

PREVIEW_SIZE = (160, 120)  # width, height the preview fits into
PREVIEW_FPS = 5.0


class FramePreview:
    """The latest downscaled frame (RGB, height x width x 3) and how many have been kept."""

    def __init__(self, fps: float = 30.0, preview_fps: float = PREVIEW_FPS,
                 size: tuple[int, int] = PREVIEW_SIZE) -> None:
        self.every = max(1, round(fps / preview_fps))
        self.size = size
        self.offered = 0
        self.count = 0  # frames kept so far: the reader shows a frame only when this changes
        self._latest: np.ndarray | None = None
        self._lock = threading.Lock()

    def offer(self, image: np.ndarray) -> None:
        """Called by the capture thread with every BGR frame; keeps every Nth, shrunk."""
        self.offered += 1
        if (self.offered - 1) % self.every:
            return
        h, w = image.shape[:2]
        scale = min(self.size[0] / w, self.size[1] / h, 1.0)
        cv = cv2()
        small = cv.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv.INTER_AREA)
        rgb = np.ascontiguousarray(cv.cvtColor(small, cv.COLOR_BGR2RGB))
        with self._lock:
            self._latest = rgb  # a new array each time: a reader's array is never changed under it
            self.count += 1

    def latest(self) -> tuple[int, np.ndarray | None]:
        """(frames kept so far, the latest one or None before the first)."""
        with self._lock:
            return self.count, self._latest
