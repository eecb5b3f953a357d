"""The camera preview: a real video file played by the panel's devices shows up small in the panel."""
from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage

from acquisition.live_status import RECEIVING
from devices.opencv import cv2
from devices.preview import PREVIEW_SIZE, FramePreview
from gui.camera_preview import NO_PREVIEW
from gui.panel import ControlPanel
from tests.astronaut_video import FPS, base_frame, write_video

WAIT_MS = 60_000


def pixels(image: QImage) -> np.ndarray:
    """An RGB array of a QImage (rows copied past Qt's line padding)."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    raw = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), dtype=np.uint8)
    rows = raw.reshape(image.height(), image.bytesPerLine())
    return rows[:, :image.width() * 3].reshape(image.height(), image.width(), 3)


def test_preview_keeps_every_nth_frame_shrunk():
    preview = FramePreview(fps=30.0, preview_fps=5.0)
    frame = base_frame()
    for _ in range(12):
        preview.offer(frame)
    count, rgb = preview.latest()
    assert count == 2  # frames 1 and 7 of 12
    assert rgb.shape == (PREVIEW_SIZE[1], PREVIEW_SIZE[0], 3)
    expected = cv2().resize(frame, PREVIEW_SIZE, interpolation=cv2().INTER_AREA)[:, :, ::-1]
    assert np.abs(rgb.astype(int) - expected).max() <= 1


def panel_with(qtbot, tmp_path, webcam: str, tag: str) -> ControlPanel:
    config = tmp_path / "devices.yaml"
    config.write_text(f"webcam: {webcam}\n")
    p = ControlPanel(root=tmp_path / "rec", marker_endpoint="tcp://127.0.0.1:*", devices=config,
                     protocols=["infant_face_rating"], queries=[f"contains(source_id,'{tag}')"])
    p.show()
    qtbot.waitExposed(p)
    return p


def test_panel_shows_the_video_sources_frames(qtbot, tmp_path, unique):
    frame = base_frame()
    write_video(tmp_path / "astronaut.avi", [frame] * int(FPS * 6))
    p = panel_with(qtbot, tmp_path, f"{{source: video, video: astronaut.avi, name: Cam{unique}, "
                                    f"source_id: {unique}-cam, expression: false}}", unique)
    try:
        assert p.session.camera.isHidden()
        qtbot.mouseClick(p.session.devices_button, Qt.MouseButton.LeftButton)
        label = p.session.camera
        qtbot.waitUntil(lambda: label.pixmap() is not None and not label.pixmap().isNull(), timeout=WAIT_MS)
        assert label.isVisible()
        shown = label.pixmap().toImage()
        assert (shown.width(), shown.height()) == PREVIEW_SIZE
        expected = cv2().resize(frame, PREVIEW_SIZE, interpolation=cv2().INTER_AREA)[:, :, ::-1]
        assert np.abs(pixels(shown).astype(int) - expected).mean() < 8  # the astronaut, not a blank
        qtbot.waitUntil(lambda: label.shown == p.lab.camera_preview.latest()[0] > 1,
                        timeout=WAIT_MS)  # it follows the camera's latest frame
        qtbot.waitUntil(lambda: p.plots.frames > 10 and p.streams.status_of(f"Cam{unique}") == RECEIVING,
                        timeout=WAIT_MS)  # the plots draw beside it
        if os.environ.get("ATTUNE_SAVE_PNG"):
            p.grab().save(os.environ["ATTUNE_SAVE_PNG"])
        qtbot.mouseClick(p.session.devices_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: p.session.devices_button.text().startswith("Start"), timeout=WAIT_MS)
        assert label.isHidden()
    finally:
        p.shutdown()
        p.close()


def test_simulated_webcam_gets_a_note_not_pixels(qtbot, tmp_path, unique):
    p = panel_with(qtbot, tmp_path, f"{{rate: 30, name: Cam{unique}, source_id: {unique}-cam, expression: false}}", unique)
    try:
        qtbot.mouseClick(p.session.devices_button, Qt.MouseButton.LeftButton)
        label = p.session.camera
        qtbot.waitUntil(label.isVisible, timeout=WAIT_MS)
        p.show_camera()
        assert label.text() == NO_PREVIEW
        assert label.pixmap() is None or label.pixmap().isNull()
    finally:
        p.shutdown()
        p.close()
