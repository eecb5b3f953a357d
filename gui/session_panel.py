"""The session box: simulated devices for rehearsal, and the stimulus task with its progress.

The task runs on the stimulus side, either here (``main.py stimulus`` as a
child process) or on the stimulus computer (its ``stimulus.remote`` control
endpoint). Either way it sends its markers to the recording's marker
server, and progress ("trial n of N") is read from those markers as they
arrive, so the panel shows what was actually recorded, local or remote.
A task can only start while recording: markers nobody records are lost.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QProcess, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from acquisition.live_buffers import LiveMarker
from gui.camera_preview import CameraPreview
from gui.style import GREY

MAIN = Path(__file__).resolve().parents[1] / "main.py"


@dataclass
class TaskProgress:
    """What the task's markers say: which protocol, trial n of N, finished or not."""

    protocol: str = ""
    trial: int = 0
    trials: int = 0
    started: bool = False
    finished: bool = False
    aborted: bool = False

    def take(self, marker: LiveMarker) -> bool:
        """Update from one marker; True if it was a task marker."""
        f: dict[str, Any] = marker.fields
        if marker.label == "protocol_start":
            self.protocol = str(f.get("protocol", ""))
            self.trials = int(f.get("trials", 0) or 0)
            self.trial, self.started, self.finished, self.aborted = 0, True, False, False
        elif marker.label == "trial_start" and self.started:
            self.trial = max(self.trial, int(f.get("number", self.trial + 1) or 0))
        elif marker.label == "protocol_end" and self.started:
            self.finished, self.aborted = True, bool(f.get("aborted", False))
        else:
            return False
        return True

    def text(self) -> str:
        if not self.started:
            return "no task running"
        if self.finished:
            return f"{self.protocol}: {'ended early' if self.aborted else 'finished'} after trial {self.trial} of {self.trials}"
        return f"{self.protocol}: trial {self.trial} of {self.trials}"


class SessionPanel(QGroupBox):
    devices_toggled = pyqtSignal(bool)
    task_start_requested = pyqtSignal()
    task_stop_requested = pyqtSignal()

    def __init__(self, protocols: list[str], parent: QWidget | None = None) -> None:
        super().__init__("Session", parent)
        self.devices_button = QPushButton("Start simulated devices")
        self.devices_button.setObjectName("devices")
        self.devices_button.setCheckable(True)
        self.devices_button.toggled.connect(self.devices_toggled)
        self.with_markers = QCheckBox("with test markers")
        self.with_markers.setToolTip("also publish a simulated marker stream (about 2 per second)")
        self.devices_state = QLabel("rehearsal: no hardware needed")
        self.devices_state.setStyleSheet(f"color:{GREY};")
        dev_row = QHBoxLayout()
        dev_row.addWidget(self.devices_button)
        dev_row.addWidget(self.with_markers)
        dev_row.addWidget(self.devices_state, 1)
        self.camera = CameraPreview()  # shown while devices run: the camera, or a note for a simulated one
        self.camera.hide()
        camera_row = QHBoxLayout()
        camera_row.addWidget(self.camera)
        camera_row.addStretch(1)

        self.protocol = QComboBox()
        self.protocol.setObjectName("protocol")
        self.protocol.addItems(protocols)
        if "infant_face_rating" in protocols:  # a visit starts with the assessment
            self.protocol.setCurrentText("infant_face_rating")
        self.where = QComboBox()
        self.where.addItems(["this computer", "stimulus computer"])
        self.remote = QLineEdit("tcp://127.0.0.1:5570")
        self.remote.setToolTip("the stimulus computer's control endpoint (python -m stimulus.remote)")
        self.remote.setEnabled(False)
        self.where.currentIndexChanged.connect(lambda i: self.remote.setEnabled(i == 1))
        self.simulate = QCheckBox("simulated participant")
        self.windowed = QCheckBox("in a window")
        self.windowed.setToolTip("otherwise full screen; on a computer with one screen the task always opens "
                                 "in a window, so it cannot cover this panel")
        self.speed = QDoubleSpinBox()
        self.speed.setRange(0.1, 100.0)
        self.speed.setValue(1.0)
        self.speed.setSuffix(" × speed")
        self.task_button = QPushButton("Start task")
        self.task_button.setObjectName("task")
        self.task_button.setEnabled(False)
        self.task_button.clicked.connect(self._task_clicked)
        self.progress = QProgressBar()
        self.progress.setObjectName("progress")
        self.progress.setTextVisible(True)
        self.progress.setFormat("no task running")
        self.progress.setValue(0)
        self.task_note = QLabel("Start a recording first: the task's markers go into it.")
        self.task_note.setWordWrap(True)
        self.task_note.setStyleSheet(f"color:{GREY};")

        grid = QGridLayout()
        grid.addWidget(QLabel("Protocol"), 0, 0)
        grid.addWidget(self.protocol, 0, 1)
        grid.addWidget(QLabel("Run on"), 0, 2)
        grid.addWidget(self.where, 0, 3)
        grid.addWidget(self.remote, 1, 1, 1, 3)
        grid.addWidget(QLabel("Stimulus PC"), 1, 0)
        opts = QHBoxLayout()
        opts.addWidget(self.simulate)
        opts.addWidget(self.windowed)
        opts.addWidget(self.speed)
        opts.addStretch(1)
        grid.addLayout(opts, 2, 0, 1, 4)
        task_row = QHBoxLayout()
        task_row.addWidget(self.task_button)
        task_row.addWidget(self.progress, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(dev_row)
        layout.addLayout(camera_row)
        layout.addLayout(grid)
        layout.addLayout(task_row)
        layout.addWidget(self.task_note)
        self.running = False

    def _task_clicked(self) -> None:
        if self.running:
            self.task_stop_requested.emit()
        else:
            self.task_start_requested.emit()

    def task_request(self, endpoint: str, events_tsv: str) -> dict[str, Any]:
        """The start request for the chosen task (same shape locally and remotely)."""
        return {"cmd": "start", "protocol": self.protocol.currentText(), "endpoint": endpoint,
                "speed": self.speed.value(), "simulate": self.simulate.isChecked(),
                "windowed": self.windowed.isChecked(), "events_tsv": events_tsv}

    @property
    def remote_endpoint(self) -> str | None:
        return self.remote.text().strip() if self.where.currentIndex() == 1 else None

    def show_state(self, recording: bool, running: bool, progress: TaskProgress, note: str = "") -> None:
        self.running = running
        self.task_button.setText("Stop task" if running else "Start task")
        self.task_button.setEnabled(running or recording)
        for w in (self.protocol, self.where, self.simulate, self.windowed, self.speed):
            w.setEnabled(not running)
        self.remote.setEnabled(not running and self.where.currentIndex() == 1)
        self.progress.setMaximum(max(progress.trials, 1))
        self.progress.setValue(min(progress.trial, max(progress.trials, 1)))
        text = progress.text()
        if running and not progress.started:
            text = "starting the task…"
        if self.progress.format() != text:
            self.progress.setFormat(text)
        if not note:
            note = "" if recording or running else "Start a recording first: the task's markers go into it."
        if self.task_note.text() != note:
            self.task_note.setText(note)


def window_for_one_screen(request: dict[str, Any], screens: int) -> str:
    """A local task asked for full screen on a computer with one screen runs in a window instead:
    full screen would cover the panel (and its Stop button). Returns a note for the user, or ""."""
    if request.get("windowed") or screens >= 2:
        return ""
    request["windowed"] = True
    return ", in a window (one screen: full screen would cover this panel)"


def local_task(request: dict[str, Any]) -> QProcess:
    """``main.py stimulus`` for a start request, as a child process of the panel."""
    from stimulus.remote import task_command

    command = task_command(request)
    process = QProcess()
    process.setProgram(command[0] if command[0] else sys.executable)
    process.setArguments(command[1:])
    process.setWorkingDirectory(str(MAIN.parent))
    process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
    return process
