"""Replay in the control panel: a real XDF file, real LSL outlets, the real widgets.

The file is written directly (no devices, no waiting): a GSR trace, a gaze
stream and task markers, six seconds long, with names no other test uses.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QApplication, QFileDialog, QMessageBox
from xdf_samples import stream_info_xml

from acquisition.live_status import RECEIVING
from acquisition.xdf_writer import XDFWriter
from devices.eyetracker import CHANNELS as GAZE_CHANNELS
from devices.metadata import Channel, stream_info
from gui.panel import ControlPanel
from sync.streams import clock_info_xml

WAIT_MS = 60_000  # generous: a poll returns as soon as its condition holds, however busy the machine

SECONDS = 6.0
START = 5000.0  # the recorder's clock when the file began


def write_recording(path: Path, tag: str) -> Path:
    """GSR at 128 Hz, gaze at 300 Hz and a marker every second, in 0.1 s chunks as the recorder writes."""
    writer = XDFWriter(path)
    gsr = stream_info(f"GSR{tag}", "GSR", [Channel("skin_conductance", "microsiemens", "GSR")], 128.0,
                      "float32", f"{tag}-gsr")
    gaze = stream_info(f"Eye{tag}", "Gaze", GAZE_CHANNELS, 300.0, "float32", f"{tag}-eye")
    writer.add_stream(1, gsr.as_xml(), "float32", 128.0)
    writer.add_stream(2, gaze.as_xml(), "float32", 300.0)
    writer.add_stream(3, stream_info_xml(f"Mk{tag}", "Markers", 1, 0.0, "string", f"{tag}-mk"), "string", 0.0)
    for sid, rate in ((1, 128.0), (2, 300.0)):
        n = int(SECONDS * rate)
        stamps = START + np.arange(n) / rate
        if sid == 1:
            values = (2.0 + 0.3 * np.sin(stamps - START)).reshape(-1, 1).astype(np.float32)
        else:
            values = np.tile(np.array([0.5, 0.5, 3.5, 0.51, 0.5, 3.5, 1, 1], dtype=np.float32), (n, 1))
        step = int(rate / 10)
        for lo in range(0, n, step):
            writer.write_samples(sid, stamps[lo:lo + step], values[lo:lo + step])
    writer.add_stream(4, clock_info_xml(f"stim{tag}"), "string", 0.0)  # as the marker server records it
    writer.write_samples(3, [START + 0.2], [[json.dumps({"event": "protocol_start", "seq": 0, "trials": 6,
                                                         "protocol": "infant_face_rating"})]])
    for k in range(int(SECONDS)):
        text = json.dumps({"event": "face_onset", "seq": k + 1, "trial": k})
        writer.write_samples(3, [START + 0.5 + k], [[text]])
        clock = {"offset": 0.001, "uncertainty": 0.0001, "rtt": 0.0002, "drift_ppm": 0.0, "exchanges": 8}
        writer.write_samples(4, [START + 0.6 + k], [[json.dumps(clock)]])
    writer.close()
    return path


@pytest.fixture
def panel(qtbot, tmp_path, unique):
    p = ControlPanel(root=tmp_path / "rec", marker_endpoint="tcp://127.0.0.1:*",
                     protocols=["infant_face_rating"], queries=[f"contains(source_id,'{unique}')"])
    p.show()
    qtbot.waitExposed(p)
    p.tag = unique
    yield p
    p.job.stop()
    p.shutdown()
    p.close()


def when_modal(kind: type, act) -> list[str]:
    """Run ``act(widget)`` on the next modal widget of ``kind``; returns what it said, once it did."""
    seen: list[str] = []

    def look() -> None:
        widget = QApplication.activeModalWidget()
        if not isinstance(widget, kind):
            QTimer.singleShot(20, look)
            return
        seen.append(widget.text() if isinstance(widget, QMessageBox) else widget.windowTitle())
        act(widget)

    QTimer.singleShot(0, look)
    return seen


def plotted(curve) -> int:
    x = curve.getData()[0]
    return 0 if x is None else len(x)


def choose_in_dialog(path: Path):
    def act(dialog: QFileDialog) -> None:
        dialog.selectFile(str(path))
        dialog.accept()
    return act


def test_replay_open_play_pause_seek_close(qtbot, panel, tmp_path):
    p = panel
    tag = p.tag
    path = write_recording(tmp_path / "sub-P1_task-rating_physio.xdf", tag)
    r = p.replay
    assert r.band.isHidden() and not r.play_button.isVisible()

    shown = when_modal(QFileDialog, choose_in_dialog(path))
    qtbot.mouseClick(r.open_button, Qt.MouseButton.LeftButton)
    assert shown == ["Open a recording to replay"]
    qtbot.waitUntil(lambda: r.player is not None, timeout=WAIT_MS)
    assert r.band.isVisible() and "REPLAY of sub-P1_task-rating_physio.xdf" in r.band.text()
    assert "not a live session" in r.band.text()
    assert "REPLAY" in p.windowTitle() and "Replayed signals" in p.signals_title.text()
    assert r.time_label.text() == "00:00 / 00:05"  # the last sample is at 5.99 s
    assert not p.recording.start_button.isEnabled()  # recording waits until the replay closes
    p.start_recording()
    assert p.job.snapshot.state == "idle" and "Close the replay first" in p.recording.message.text()

    qtbot.mouseClick(r.play_button, Qt.MouseButton.LeftButton)
    assert r.player.state == "playing" and "Pause" in r.play_button.text()
    names = [f"GSR{tag}", f"Eye{tag}"]
    qtbot.waitUntil(lambda: all(p.streams.status_of(n) == RECEIVING for n in names), timeout=WAIT_MS)
    row = next(row for row in p.streams.rows if row.name == f"GSR{tag}")
    assert "replayed from sub-P1" in row.detail
    qtbot.waitUntil(lambda: plotted(p.plots.gsr_curve) > 50, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: p.marker_log.events().count("face_onset") >= 2, timeout=WAIT_MS)
    assert set(p.marker_log.events()) <= {"protocol_start", "face_onset"}  # clock estimates are no events
    assert p.session.progress.format() == "no task running"  # a replayed task is not a running one

    qtbot.mouseClick(r.play_button, Qt.MouseButton.LeftButton)
    assert r.player.state == "paused" and "Play" in r.play_button.text()
    held = r.player.position
    qtbot.wait(400)
    assert r.player.position == held and r.slider.value() == round(held * 10)

    r.slider.setSliderDown(True)  # dragging: the label follows, the player waits for the release
    r.slider.setValue(20)
    assert r.player.position == held and r.time_label.text() == "00:02 / 00:05"
    r.slider.setSliderDown(False)
    assert r.player.position == pytest.approx(2.0)
    r.slider.setValue(45)  # a click on the track: seek at once
    assert r.player.position == pytest.approx(4.5)
    qtbot.waitUntil(lambda: r.time_label.text() == "00:04 / 00:05", timeout=WAIT_MS)
    r.speed.setCurrentIndex(r.speed.findText("10×"))
    r.loop.setChecked(True)
    assert r.player.speed == 10.0 and r.player.loop
    qtbot.mouseClick(r.play_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: r.player.laps >= 1, timeout=WAIT_MS)  # looped past the end, still playing
    assert r.player.state == "playing"

    player = r.player
    qtbot.mouseClick(r.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not r.active, timeout=WAIT_MS)
    assert player.state == "stopped" and all(lane.outlet is None for lane in player._lanes)
    assert r.band.isHidden() and "REPLAY" not in p.windowTitle()
    qtbot.waitUntil(p.recording.start_button.isEnabled, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: all(p.streams.status_of(n) is None for n in names), timeout=WAIT_MS)


def test_a_file_that_is_not_xdf_is_named_in_a_message(qtbot, panel, tmp_path):
    p = panel
    notes = tmp_path / "notes.xdf"
    notes.write_text("hello, not a recording")
    said = when_modal(QMessageBox, lambda box: box.accept())
    p.replay.open_file(notes)
    qtbot.waitUntil(lambda: bool(said), timeout=WAIT_MS)
    assert "notes.xdf" in said[0] and "not an XDF file" in said[0]
    assert p.replay.player is None and not p.replay.active and p.replay.band.isHidden()
    qtbot.waitUntil(p.recording.start_button.isEnabled, timeout=5000)  # re-enabled once the message box returns


def test_no_replay_opens_while_recording(qtbot, panel, tmp_path):
    p = panel
    for box, _ in p.recording.required_boxes:
        box.setChecked(False)
    qtbot.mouseClick(p.recording.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p.job.snapshot.active, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not p.replay.open_button.isEnabled(), timeout=WAIT_MS)
    p.replay.open_file(write_recording(tmp_path / "other.xdf", p.tag))
    assert not p.replay.active
    p.job.stop()
    qtbot.waitUntil(lambda: not p.job.snapshot.active, timeout=WAIT_MS)
    qtbot.waitUntil(p.replay.open_button.isEnabled, timeout=WAIT_MS)


def test_opening_another_file_closes_the_first(qtbot, panel, tmp_path):
    p, r = panel, panel.replay
    first = write_recording(tmp_path / "first.xdf", p.tag)
    second = write_recording(tmp_path / "second.xdf", p.tag + "b")  # its source ids contain the tag too
    r.open_file(first)
    qtbot.waitUntil(lambda: r.player is not None, timeout=WAIT_MS)
    old = r.player
    r.open_file(second)
    qtbot.waitUntil(lambda: r.player is not None and r.path == second, timeout=WAIT_MS)
    assert old.state == "stopped" and "second.xdf" in r.band.text()
    r.toggle_play()
    qtbot.waitUntil(lambda: p.streams.status_of(f"GSR{p.tag}b") == RECEIVING, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: p.streams.status_of(f"GSR{p.tag}") is None, timeout=WAIT_MS)


def test_command_line_opens_a_replay():
    import argparse

    from gui import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["gui", "--replay", "session.xdf"])
    assert args.replay == Path("session.xdf") and args.func is cli.run
