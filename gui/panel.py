"""The control panel window: session, recording, live plots, streams and markers in one calm view.

The GUI thread only reads snapshots: the LiveHub's buffers and rows, the
RecordingJob's snapshot. Two timers drive it: frames (~30 Hz) redraw the
plots, and a status tick (4 Hz) refreshes tables, counters and the banner.
Everything that may wait (LSL, disk, another computer, joining threads)
runs in a worker thread.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pylsl
from PyQt6.QtCore import QProcess, Qt, QTimer
from PyQt6.QtGui import QCloseEvent, QGuiApplication
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from acquisition.live import LiveHub
from acquisition.live_status import LOST, stall_threshold
from acquisition.naming import NamingError, events_tsv_path
from configs import ConfigError
from devices.body import MarkerFollower, SimulatedBody
from devices.lab import DEFAULT_DEVICES, DeviceConfig, SimulatedLab, load_devices
from gui.background import Background
from gui.feedback_status import FeedbackStatus
from gui.marker_log import MarkerLog
from gui.plots import LivePlots
from gui.recording_job import FAILED, RECORDING, RecordingJob
from gui.recording_panel import RecordingPanel
from gui.replay_panel import ReplayPanel
from gui.session_panel import SessionPanel, TaskProgress, local_task, window_for_one_screen
from gui.streams_view import StreamsView
from gui.style import APP_STYLE, BANNER_ALARM, BANNER_OK, BANNER_WARN, format_elapsed
from sync.protocol import DEFAULT_ENDPOINT

log = logging.getLogger(__name__)

FRAME_MS = 33
STATUS_MS = 250
PREVIEW_MS = 200  # the camera preview's refresh (~5 fps), apart from the plots' frames
WINDOWS = [10, 30, 60]


class ControlPanel(QMainWindow):
    """Owns the experimenter's window: session, recording, live plots, streams, markers and replay tabs.

    Created by ``main.py gui`` (and the demo); it is one client of the headless engine, never its owner."""

    def __init__(self, root: Path = Path("recordings"), marker_endpoint: str = DEFAULT_ENDPOINT,
                 devices: Path = DEFAULT_DEVICES, protocols: list[str] | None = None,
                 queries: list[str] | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Attune control panel")
        self.setStyleSheet(APP_STYLE)
        self.marker_endpoint = marker_endpoint
        self.devices_path = Path(devices)
        self.queries = list(queries or [])  # which streams to show and record (default: all)
        self.hub = LiveHub(self.queries)
        self.job = RecordingJob(self.hub)
        self.background = Background(self)
        self.lab: SimulatedLab | None = None
        self.body: MarkerFollower | None = None
        self.task: QProcess | None = None
        self.remote_running = False
        self.task_note = ""
        self.progress = TaskProgress()
        self._markers_seen = self.hub.markers.count
        self._close_after_stop = False
        self._shut = False
        self._dropouts: dict[str, float] = {}  # stream name -> recording time it went quiet
        self._dropout_notes: list[str] = []
        if protocols is None:
            from stimulus.protocol import available_protocols
            protocols = available_protocols()

        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()

        self.session = SessionPanel(protocols)
        self.recording = RecordingPanel(root)
        self.replay = ReplayPanel(self.background, Path(root))
        self.replay.opened.connect(lambda _path: self._replay_changed())
        self.replay.closed.connect(self._replay_changed)
        self._closed_replay: set[tuple[str, str]] = set()  # streams of a closed replay, hidden once gone
        self.recording.start_requested.connect(self.start_recording)
        self.recording.stop_requested.connect(self.stop_recording)
        self.recording.required_changed.connect(self.hub.set_required)
        self.hub.set_required(self.recording.required())
        for edit in (self.recording.participant, self.recording.session, self.recording.task, self.recording.run):
            edit.textChanged.connect(self._lock_recording_during_replay)  # after the panel's own update
        self.session.devices_toggled.connect(self.toggle_devices)
        self.session.task_start_requested.connect(self.start_task)
        self.session.task_stop_requested.connect(self.stop_task)

        self.plots = LivePlots(self.hub)
        self.window_choice = QComboBox()
        self.window_choice.addItems([f"{w} s" for w in WINDOWS])
        self.window_choice.setCurrentIndex(WINDOWS.index(30))
        self.window_choice.currentIndexChanged.connect(lambda i: self.plots.set_window(WINDOWS[i]))
        self.pause_button = QPushButton("Pause view")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause)
        self.view_note = QLabel("")
        controls = QHBoxLayout()
        self.signals_title = QLabel("<b>Live signals</b>")
        controls.addWidget(self.signals_title)
        controls.addWidget(self.view_note, 1)
        controls.addWidget(QLabel("Window"))
        controls.addWidget(self.window_choice)
        controls.addWidget(self.pause_button)

        self.streams = StreamsView()
        self.marker_log = MarkerLog(self.hub.markers)
        self.feedback_status = FeedbackStatus()  # training with live feedback: what the participant gets now

        plots_box = QWidget()
        pv = QVBoxLayout(plots_box)
        pv.setContentsMargins(0, 0, 0, 0)
        pv.addLayout(controls)
        pv.addWidget(self.plots, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(plots_box)
        right.addWidget(self._titled("Streams on the network", self.streams))
        right.setSizes([700, 220])

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.session)
        lv.addWidget(self.recording)
        lv.addWidget(self.feedback_status)
        lv.addWidget(self._titled("Markers", self.marker_log), 1)
        left.setMinimumWidth(430)
        left.setMaximumWidth(520)

        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(left)
        body.addWidget(right)
        body.setStretchFactor(1, 1)
        central = QWidget()
        cv = QVBoxLayout(central)
        cv.setContentsMargins(8, 8, 8, 8)
        cv.addWidget(self.banner)
        cv.addWidget(self.replay)
        cv.addWidget(body, 1)
        self.setCentralWidget(central)
        self.status_line = QLabel("")
        self.statusBar().addWidget(self.status_line, 1)
        self.resize(1600, 980)

        self.frame_timer = QTimer(self)
        self.frame_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.frame_timer.timeout.connect(self.plots.redraw)
        self.status_timer = QTimer(self)
        self.status_timer.timeout.connect(self.tick)
        self.preview_timer = QTimer(self)  # runs only while devices run
        self.preview_timer.timeout.connect(self.show_camera)
        self.hub.start()
        self.frame_timer.start(FRAME_MS)
        self.status_timer.start(STATUS_MS)
        self.tick()

    @staticmethod
    def _titled(title: str, widget: QWidget) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(0, 4, 0, 0)
        v.addWidget(QLabel(f"<b>{title}</b>"))
        v.addWidget(widget, 1)
        return box

    # -- dialogs -----------------------------------------------------------------
    def ask(self, title: str, text: str, yes: str, no: str = "Cancel") -> bool:
        """A yes/no question whose safe answer (no) is the default."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=self)
        box.setObjectName("question")
        yes_button = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        no_button = box.addButton(no, QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(no_button)
        box.setEscapeButton(no_button)
        box.exec()
        return box.clickedButton() is yes_button

    # -- devices -----------------------------------------------------------------
    def toggle_devices(self, on: bool) -> None:
        button = self.session.devices_button
        button.setEnabled(False)
        if on:
            try:
                configs = load_devices(self.devices_path)
            except ConfigError as exc:  # a technician's typo: say where, start nothing
                self.session.devices_state.setText(f"not started: {Path(exc.source).name}: {exc.field}: "
                                                   f"{exc.problem}")
                self.session.devices_state.setToolTip(str(exc))  # with the full path
                self.session.devices_state.setWordWrap(True)
                button.blockSignals(True)  # unchecking is not a request to stop: keep the message
                button.setChecked(False)
                button.blockSignals(False)
                button.setEnabled(True)
                return
            if self.session.with_markers.isChecked() and not any(c.kind == "markers" for c in configs):
                configs.append(DeviceConfig("markers", 2.0, "SimMarkers", "attune-sim-markers", 4))
            lab = SimulatedLab(configs)

            def started(result: Any) -> None:
                button.setEnabled(True)
                if isinstance(result, Exception):
                    self.session.devices_state.setText(f"could not start: {result}")
                    button.setChecked(False)
                    return
                self.lab = lab
                self.body = MarkerFollower(SimulatedBody(lab))  # reacts to the faces the task shows
                self.body.start()
                button.setText("Stop devices" if lab.camera_preview is not None else "Stop simulated devices")
                self.session.devices_state.setText(", ".join(lab.stream_names))
                self.session.camera.show()
                self.show_camera()
                self.preview_timer.start(PREVIEW_MS)
            self.session.devices_state.setText("starting…")
            self.background.run(lab.start, started, "devices-start")
        else:
            lab, self.lab = self.lab, None
            body, self.body = self.body, None
            self.preview_timer.stop()
            self.session.camera.hide()

            def stop() -> None:
                if body is not None:
                    body.stop()
                if lab is not None:
                    lab.stop()

            def stopped(_: Any) -> None:
                button.setEnabled(True)
                button.setText("Start simulated devices")
                self.session.devices_state.setText("rehearsal: no hardware needed")
            self.background.run(stop, stopped, "devices-stop")

    def show_camera(self) -> None:
        """The preview timer's tick: the real webcam's latest small frame, or the no-camera note."""
        if self.lab is not None:
            self.session.camera.show_preview(self.lab.camera_preview)

    # -- recording ---------------------------------------------------------------
    def start_recording(self) -> None:
        if self.replay.active:
            self.recording.message.setText("Close the replay first: its streams would be recorded as if live.")
            return
        try:
            path = self.recording.target()
            required = self.recording.required()
        except (NamingError, ValueError) as exc:
            self.recording.message.setText(str(exc))
            return
        self.hub.set_required(required)
        if self.hub.missing:
            names = "\n".join(f"  • {p}" for p in self.hub.missing)
            if not self.ask("Required stream missing",
                            f"These required streams are not on the network:\n{names}\n\n"
                            "Start anyway? They join the recording if they appear.", "Start anyway"):
                return
        self._dropouts.clear()
        self._dropout_notes.clear()
        self.recording.message.setText("")
        self.job.start(path, self.queries, self.hub.visible_infos(), self.marker_endpoint)
        self.tick()

    def stop_recording(self) -> None:
        if self.task is not None or self.remote_running:
            if not self.ask("Task still running", "The stimulus task is still running; its remaining "
                            "markers will not be recorded.\n\nStop the recording anyway?", "Stop recording"):
                return
        self.job.stop()
        self.tick()

    # -- stimulus task -------------------------------------------------------------
    def start_task(self) -> None:
        snap = self.job.snapshot
        if snap.state != RECORDING or not snap.markers:
            self.task_note = "The marker server is not running: start a recording first."
            return
        path = snap.path
        events = events_tsv_path(path) if path else None
        request = self.session.task_request(snap.markers, str(events or ""))
        self.progress = TaskProgress()
        remote = self.session.remote_endpoint
        if remote:
            from stimulus.remote import request as ask_remote

            self.remote_running = True
            self.task_note = f"asking {remote}…"

            def answered(reply: Any) -> None:
                if isinstance(reply, Exception) or not reply.get("ok"):
                    self.remote_running = False
                    self.task_note = f"stimulus computer: {reply if isinstance(reply, Exception) else reply.get('error')}"
                else:
                    self.task_note = f"running on the stimulus computer ({remote})"
            self.background.run(lambda: ask_remote(remote, request), answered, "remote-start")
            self._poll_remote = 0
            return
        note = "running on this computer" + window_for_one_screen(request, len(QGuiApplication.screens()))
        process = local_task(request)
        process.finished.connect(self._task_finished)
        self.task = process
        self.task_note = note
        process.start()

    def stop_task(self) -> None:
        if self.task is not None:
            self.task.terminate()
        elif self.remote_running:
            from stimulus.remote import request as ask_remote
            remote = self.session.remote_endpoint or ""
            self.background.run(lambda: ask_remote(remote, {"cmd": "stop"}), None, "remote-stop")

    def _task_finished(self, code: int, _status: Any = None) -> None:
        process, self.task = self.task, None
        output = bytes(process.readAll()).decode(errors="replace").strip() if process else ""
        last = output.splitlines()[-1] if output else ""
        self.task_note = f"task exited ({code})" + (f": {last}" if last and code not in (0, 3) else "")

    def _poll_remote_status(self) -> None:
        remote = self.session.remote_endpoint
        if not self.remote_running or not remote:
            return
        from stimulus.remote import request as ask_remote

        def answered(reply: Any) -> None:
            if isinstance(reply, dict) and reply.get("ok") and not reply.get("running"):
                self.remote_running = False
                self.task_note = f"task on the stimulus computer exited ({reply.get('returncode')})"
        self.background.run(lambda: ask_remote(remote, {"cmd": "status"}, timeout=2.0), answered, "remote-status")

    # -- view ----------------------------------------------------------------------
    def _pause(self, paused: bool) -> None:
        self.plots.set_paused(paused)
        self.pause_button.setText("Resume view" if paused else "Pause view")
        self.view_note.setText("  view paused (recording continues)" if paused else "")

    def _replay_changed(self) -> None:
        """Say on the plots whether they show a replay, and forget the streams of a closed one."""
        if self.replay.player is not None:
            self._closed_replay -= self.replay.replayed
            self.signals_title.setText(f"<b>Replayed signals</b> ({self.replay.path.name})")
        else:
            self._closed_replay |= self.replay.replayed
            self.signals_title.setText("<b>Live signals</b>")
        self._lock_recording_during_replay()
        self.tick()

    def _lock_recording_during_replay(self) -> None:
        """Start recording waits for the replay to close: replayed streams look live in a file."""
        button = self.recording.start_button
        if self.replay.active:
            button.setEnabled(False)
            button.setToolTip("Close the replay to record: its streams would enter the file as if live")
        elif button.toolTip():
            button.setToolTip("")
            self.recording.update_path()  # enables Start again when the fields allow it

    def _stream_rows(self, now: float) -> list:
        """The hub's rows, replayed streams marked, a closed replay's lost streams left out."""
        rows = self.hub.rows(now)
        playing = self.replay.stream_ids()
        if not playing and not self._closed_replay:
            return rows
        out = []
        for row in rows:
            ident = (row.name, row.key.source_id) if row.key is not None else None
            if ident in playing:
                row = replace(row, detail=row.detail or f"replayed from {self.replay.path.name}")
            elif ident in self._closed_replay and row.status == LOST:
                continue
            out.append(row)
        return out

    def tick(self) -> None:
        """The 4 Hz refresh: tables, counters, banner, task progress."""
        now = pylsl.local_clock()
        self.streams.show_rows(self._stream_rows(now))
        replaying = self.replay.path is not None
        for marker in self.hub.markers.after(self._markers_seen):
            if not replaying:  # a replayed task's markers are history, not a task running now
                self.progress.take(marker)
                self.feedback_status.take(marker)
        self._markers_seen = self.hub.markers.count
        self.marker_log.refresh()
        snap = self.job.snapshot
        self.recording.show_snapshot(snap, now)
        self.replay.set_recording(snap.active)
        self._lock_recording_during_replay()
        if self.remote_running and int(now * 4) % 8 == 0:
            self._poll_remote_status()
        self.session.show_state(snap.state == RECORDING, self.task is not None or self.remote_running,
                                self.progress, self.task_note)
        self._banner(snap, now)
        title = "Attune control panel"
        if self.replay.path is not None:
            title = f"REPLAY {self.replay.path.name} — {title}"
        if snap.active:
            title = f"● REC {format_elapsed(snap.elapsed(now))} — {title}"
        if self.windowTitle() != title:
            self.setWindowTitle(title)
        n_streams = sum(1 for r in self.streams.rows if r.key is not None)
        where = f"markers on {snap.markers}" if snap.markers and snap.active else "marker server off (starts with a recording)"
        self.status_line.setText(f"{n_streams} streams · {self.hub.markers.count} markers seen · {where}")
        if self._close_after_stop and not snap.active:
            self._close_after_stop = False
            self.close()

    def _banner(self, snap: Any, now: float) -> None:
        alarm, notes = [], []
        if snap.state == FAILED:
            alarm.append(f"Recording failed: {snap.error}")
        if snap.warning and snap.active:
            alarm.append(snap.warning)
        if snap.active:
            elapsed = snap.elapsed(now)
            quiet = [row for row in snap.rows
                     if row.nominal_srate > 0 and row.seconds_since_data > stall_threshold(row.nominal_srate)]
            quiet_now = {row.name for row in quiet}
            for row in quiet:
                self._dropouts.setdefault(row.name, elapsed - row.seconds_since_data)
            if quiet:
                names = ", ".join(row.name for row in quiet)
                longest = max(row.seconds_since_data for row in quiet)
                verb = "has" if len(quiet) == 1 else "have"
                alarm.append(f"STREAM DROPPED: {names} {verb} sent nothing for {longest:.0f} s. "
                             "The recording continues; check the device.")
            for name in list(self._dropouts):
                if name not in quiet_now:
                    began = self._dropouts.pop(name)
                    self._dropout_notes.append(f"{name} was out from {format_elapsed(began)} to "
                                               f"{format_elapsed(elapsed)} (recording time)")
            for predicate in self.hub.missing:
                alarm.append(f"Required stream {predicate} is not on the network: it is not being recorded.")
            notes = self._dropout_notes[-3:]
        if alarm:
            text, style = "⚠  " + "\n⚠  ".join(alarm), BANNER_ALARM
        elif notes:
            text, style = "Dropped out earlier: " + "; ".join(notes), BANNER_WARN
        elif snap.state == "stopped" and snap.path is not None:
            text, style = f"Saved {snap.path}", BANNER_OK
        else:
            text, style = "", ""
        if self.banner.text() != text:
            self.banner.setText(text)
            self.banner.setStyleSheet(style)
            self.banner.setVisible(bool(text))

    # -- closing -------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self._shut:
            event.accept()
            return
        if self.job.snapshot.active:
            event.ignore()
            if self._close_after_stop:
                return
            if self.ask("Recording in progress", "A recording is running.\n\n"
                        "Stop the recording (the file is finished and kept) and close the panel?",
                        "Stop and close", "Keep recording"):
                self._close_after_stop = True
                self.job.stop()
            return
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop timers, the task, the devices and the hub (the recording is already finished)."""
        if self._shut:
            return
        self._shut = True
        self.frame_timer.stop()
        self.status_timer.stop()
        self.preview_timer.stop()
        if self.task is not None:
            self.task.finished.disconnect()
            self.task.terminate()
            self.task.waitForFinished(3000)
            self.task = None
        self.job.join(3.0)
        self.hub.stop()  # inlets before outlets: liblsl reports an outlet vanishing under an inlet as an error
        if self.body is not None:
            self.body.stop()
            self.body = None
        if self.lab is not None:
            self.lab.stop()
            self.lab = None
        self.replay.shutdown()
