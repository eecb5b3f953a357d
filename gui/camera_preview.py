"""The camera in the control panel: a small picture a few times a second, or a plain note.

It shows what devices.preview.FramePreview kept last (already small and RGB),
read on the panel's timer, so the capture loop and the plots never wait for
it. A simulated webcam has no pixels, and none are invented: the label says so.
"""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import QLabel, QWidget

from devices.preview import PREVIEW_SIZE, FramePreview
from gui.style import GREY

NO_PREVIEW = "no camera preview\n(simulated webcam)"
WAITING = "waiting for the\nfirst camera frame"


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    """A QPixmap of an RGB uint8 frame (the pixels are copied: Qt does not keep the array alive)."""
    height, width = rgb.shape[:2]
    image = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class CameraPreview(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("camera_preview")
        self.setFixedSize(PREVIEW_SIZE[0] + 2, PREVIEW_SIZE[1] + 2)  # the frame inside a 1 px border
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet(f"color:{GREY}; border:1px solid #ccc; background:#f4f4f4;")
        self.shown = -1  # the preview's frame count last drawn
        self.setText(NO_PREVIEW)

    def show_preview(self, preview: FramePreview | None) -> None:
        """Draw the latest frame if there is a new one; the note when there is no camera."""
        if preview is None:
            if self.shown != -1 or not self.text():
                self.clear()
                self.setText(NO_PREVIEW)
                self.shown = -1
            return
        count, rgb = preview.latest()
        if rgb is None:
            if self.text() != WAITING:
                self.setText(WAITING)
            return
        if count == self.shown:
            return
        self.setPixmap(to_pixmap(rgb))
        self.shown = count
