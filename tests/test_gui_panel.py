"""The control panel, driven through its real widgets on real simulated devices and LSL."""
from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

import pyxdf
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QApplication, QMessageBox

from acquisition.live_status import MISSING
from gui.panel import ControlPanel
from gui.recording_job import FAILED, RECORDING, STOPPED
from sync.protocol import DEFAULT_ENDPOINT
from tests.support import devices_yaml, start_devices

WAIT_MS = 60_000  # generous: a poll returns as soon as its condition holds, however busy the machine


@pytest.fixture
def panel(qtbot, tmp_path, unique):
    p = ControlPanel(root=tmp_path / "rec", marker_endpoint="tcp://127.0.0.1:*",
                     devices=devices_yaml(tmp_path, unique), protocols=["infant_face_rating"],
                     queries=[f"contains(source_id,'{unique}')"])
    p.show()  # not qtbot.addWidget: its close would ask about a running recording after a failure
    qtbot.waitExposed(p)
    p.tag = unique
    yield p
    p.job.stop()
    p.shutdown()  # joins the recording, then the devices and the hub
    p.close()


def answer_dialog(button_text: str) -> list[str]:
    """Click ``button_text`` in the next modal question; returns the question's text once asked."""
    asked: list[str] = []

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        asked.append(box.text())
        for button in box.buttons():
            if button.text() == button_text:
                button.click()
                return
        raise AssertionError(f"no button {button_text!r} in {[b.text() for b in box.buttons()]}")

    QTimer.singleShot(0, click)
    return asked


def type_into(qtbot, edit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def test_record_from_the_panel(qtbot, panel):
    p = panel
    start_devices(qtbot, p)
    assert p.streams.status_of("type='GSR'") is None  # required and present: no missing row
    type_into(qtbot, p.recording.participant, "P042")
    type_into(qtbot, p.recording.task, "faces")
    assert "sub-P042_ses-01_task-faces_run-1_physio.xdf" in p.recording.path_label.text()

    qtbot.mouseClick(p.recording.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p.job.snapshot.state == RECORDING, timeout=WAIT_MS)
    assert not p.recording.participant.isEnabled()
    qtbot.waitUntil(lambda: p.recording.sample_counts().get(f"Eye{p.tag}", 0) > 300, timeout=WAIT_MS)
    first = p.recording.sample_counts()
    frames = p.plots.frames
    qtbot.waitUntil(lambda: all(p.recording.sample_counts()[name] > first[name] for name in first),
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: p.plots.frames > frames, timeout=WAIT_MS)  # plots keep drawing while recording
    assert "REC" in p.windowTitle()
    shown, _ = p.plots.gsr_curve.getData()  # decimated to the plot's pixels: the span is what counts
    assert shown is not None and len(shown) > 20 and shown[-1] - shown[0] > 1.0
    assert p.banner.isHidden()

    qtbot.mouseClick(p.recording.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p.job.snapshot.state == STOPPED, timeout=WAIT_MS)
    path = p.job.snapshot.path
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    for name in (f"Eye{p.tag}", f"GSR{p.tag}", f"Cam{p.tag}", f"Cam{p.tag}Expression"):
        assert len(by_name[name]["time_stamps"]) > 0, name
    shown = p.recording.sample_counts()[f"GSR{p.tag}"]
    assert len(by_name[f"GSR{p.tag}"]["time_stamps"]) >= shown
    # The next recording goes to run 2: nothing recorded is ever overwritten.
    qtbot.waitUntil(lambda: "run-2" in p.recording.path_label.text(), timeout=WAIT_MS)
    assert p.recording.run.text() == "2"  # the field says what the path says
    assert p.recording.start_button.isEnabled()


def test_required_stream_missing_is_shown_and_asked(qtbot, panel):
    p = panel
    qtbot.waitUntil(lambda: p.streams.status_of("type='GSR'") == MISSING, timeout=WAIT_MS)
    assert p.streams.status_of("type='Gaze'") == MISSING
    asked = answer_dialog("Cancel")
    qtbot.mouseClick(p.recording.start_button, Qt.MouseButton.LeftButton)
    assert asked and "type='GSR'" in asked[0]
    assert p.job.snapshot.state == "idle"
    p.recording.required_boxes[0][0].setChecked(False)  # eye tracker no longer required
    qtbot.waitUntil(lambda: p.streams.status_of("type='Gaze'") is None, timeout=WAIT_MS)
    assert p.streams.status_of("type='GSR'") == MISSING


def test_close_while_recording_asks_first(qtbot, panel):
    p = panel
    for box, _ in p.recording.required_boxes:
        box.setChecked(False)
    qtbot.mouseClick(p.recording.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p.job.snapshot.state == RECORDING, timeout=WAIT_MS)

    asked = answer_dialog("Keep recording")
    p.close()
    assert asked and "recording is running" in asked[0]
    assert p.isVisible() and p.job.snapshot.state == RECORDING

    answer_dialog("Stop and close")
    p.close()
    qtbot.waitUntil(lambda: not p.isVisible(), timeout=WAIT_MS)
    assert p.job.snapshot.state == STOPPED
    assert p.job.snapshot.path.exists()


def test_dropout_banner_and_markers_with_task_progress(qtbot, panel):
    from sync.client import MarkerClient

    p = panel
    start_devices(qtbot, p)
    qtbot.mouseClick(p.recording.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p.job.snapshot.state == RECORDING, timeout=WAIT_MS)
    qtbot.waitUntil(p.session.task_button.isEnabled, timeout=WAIT_MS)  # a task may start once recording

    client = MarkerClient(p.job.snapshot.markers, sender_id=f"stim{p.tag}")
    try:
        client.send("protocol_start", protocol="infant_face_rating", trials=3)
        client.send("trial_start", number=1)
        client.send("trial_start", number=2)
        qtbot.waitUntil(lambda: "trial 2 of 3" in p.session.progress.format(), timeout=WAIT_MS)
        assert "protocol_start" in p.marker_log.events()
    finally:
        assert client.close(30.0) == []

    qtbot.mouseClick(p.session.devices_button, Qt.MouseButton.LeftButton)  # the devices go away
    qtbot.waitUntil(lambda: p.banner.isVisible() and f"GSR{p.tag}" in p.banner.text(), timeout=WAIT_MS)
    assert "recording continues" in p.banner.text()
    assert p.job.snapshot.state == RECORDING

    p.job.stop()
    qtbot.waitUntil(lambda: p.job.snapshot.state in (STOPPED, FAILED), timeout=WAIT_MS)
    streams, _ = pyxdf.load_xdf(str(p.job.snapshot.path), dejitter_timestamps=False)
    names = {s["info"]["name"][0]: s for s in streams}
    marker_stream = names[f"AttuneMarkers-stim{p.tag}"]
    events = [v[0] for v in marker_stream["time_series"]]
    assert len(events) == 3 and "protocol_start" in events[0]
    assert not any(n.startswith("AttuneMarkerRelay") for n in names)  # the live copy is not recorded twice


def test_a_bad_devices_file_is_named_in_the_panel_and_starts_nothing(panel, tmp_path):
    p = panel
    bad = tmp_path / "bad" / "devices.yaml"
    bad.parent.mkdir()
    bad.write_text("gsr:\n  rate: .nan\n")
    p.devices_path = bad
    p.session.devices_button.setChecked(True)
    text = p.session.devices_state.text()
    assert "devices.yaml: gsr.rate: must be a finite number" in text, text
    assert str(bad) in p.session.devices_state.toolTip()
    assert not p.session.devices_button.isChecked() and p.session.devices_button.isEnabled()
    assert p.lab is None


def test_a_local_task_opens_in_a_window_when_there_is_one_screen(panel):
    from gui.session_panel import window_for_one_screen

    p = panel
    request = p.session.task_request(DEFAULT_ENDPOINT, "")
    assert request["windowed"] is False  # "in a window" is not ticked
    assert "one screen" in window_for_one_screen(request, screens=1) and request["windowed"] is True
    request = p.session.task_request(DEFAULT_ENDPOINT, "")
    assert window_for_one_screen(request, screens=2) == "" and request["windowed"] is False


def test_a_normal_stop_and_close_print_no_liblsl_errors(qtbot, panel, capfd):
    p = panel
    start_devices(qtbot, p)
    qtbot.mouseClick(p.recording.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p.job.snapshot.state == RECORDING, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: p.recording.sample_counts().get(f"GSR{p.tag}", 0) > 50, timeout=WAIT_MS)
    qtbot.mouseClick(p.recording.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p.job.snapshot.state == STOPPED, timeout=WAIT_MS)
    p.shutdown()  # the devices' outlets go after the panel's inlets
    qtbot.wait(700)  # liblsl notices a vanished outlet within its 500 ms retry: give it the chance to complain
    err = capfd.readouterr().err
    assert "broke off" not in err and "INFO|" not in err, err[-2000:]
