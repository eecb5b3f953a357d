"""The panel shows a refused start and a full disk as errors, and is not left recording."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("pytestqt")

import pyxdf
from PyQt6.QtCore import Qt

from gui.panel import ControlPanel
from gui.recording_job import FAILED, RECORDING
from tests.support import devices_yaml, start_devices


def make_panel(qtbot, tmp_path, unique, root, endpoint: str) -> ControlPanel:
    p = ControlPanel(root=root, marker_endpoint=endpoint, devices=devices_yaml(tmp_path, unique),
                     protocols=["infant_face_rating"], queries=[f"contains(source_id,'{unique}')"])
    p.resize(1400, 900)
    p.show()
    qtbot.waitExposed(p)
    p.tag = unique
    return p


def close(p: ControlPanel) -> None:
    p.job.stop()
    p.shutdown()
    p.close()


def save_picture(p: ControlPanel, name: str) -> None:
    folder = os.environ.get("ATTUNE_TEST_SHOTS")
    if folder:
        p.grab().save(os.path.join(folder, name))


def test_a_busy_marker_port_is_a_failed_start_in_the_banner(qtbot, tmp_path, unique, busy_endpoint):
    p = make_panel(qtbot, tmp_path, unique, tmp_path / "rec", busy_endpoint)
    try:
        start_devices(qtbot, p)
        qtbot.mouseClick(p.recording.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: p.job.snapshot.state == FAILED, timeout=20000)
        qtbot.waitUntil(lambda: "did not start" in p.banner.text(), timeout=3000)
        assert f"cannot receive markers on {busy_endpoint}" in p.banner.text()
        assert "REC" not in p.windowTitle() and p.recording.start_button.isEnabled()
        assert not list((tmp_path / "rec").rglob("*.xdf"))
        save_picture(p, "panel_marker_port_busy.png")
    finally:
        close(p)


def test_a_full_disk_is_shown_at_once_and_the_file_is_finished(qtbot, tmp_path, unique, small_disk):
    p = make_panel(qtbot, tmp_path, unique, small_disk, "tcp://127.0.0.1:*")
    try:
        start_devices(qtbot, p)
        qtbot.mouseClick(p.recording.start_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: p.job.snapshot.state == RECORDING, timeout=10000)
        qtbot.waitUntil(lambda: p.job.snapshot.state == FAILED, timeout=120000)  # the disk fills by itself
        qtbot.waitUntil(lambda: "disk full" in p.banner.text(), timeout=3000)
        assert "REC" not in p.windowTitle()
        save_picture(p, "panel_disk_full.png")
        path = p.job.snapshot.path
    finally:
        close(p)
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False)
    (gaze,) = [s for s in streams if s["info"]["name"][0] == f"Eye{unique}"]
    stamps = gaze["time_stamps"]
    assert len(stamps) > 0 and (stamps[1:] > stamps[:-1]).all()
    if gaze.get("footer"):  # footers when the disk had room for them: then they tell the truth
        assert int(gaze["footer"]["info"]["sample_count"][0]) == len(stamps)
