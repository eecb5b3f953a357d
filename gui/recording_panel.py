"""The recording box: who and what is recorded, where the file goes, Start/Stop and progress.

The BIDS path is shown (and checked) while the fields are typed, so the
experimenter sees the file name before anything is written; a run number
that already has a file moves on to the next free one, because nothing
recorded may ever be overwritten. Start and Stop only hand work to the
RecordingJob; the progress lines are read from its snapshot on the panel's
timer.
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from acquisition.discovery import QueryError, check_predicate
from acquisition.naming import NamingError, SessionFields, bids_path, next_free_run
from gui.recording_job import RECORDING, STARTING, STOPPING, Snapshot
from gui.style import GREY, RED, format_elapsed, format_size

# Stream types the lab's devices publish; ticking one makes a matching stream required.
REQUIRED_CHOICES = [("Eye tracker", "Gaze"), ("GSR", "GSR"), ("Webcam", "VideoFrames"),
                    ("Expression", "FacialExpression")]


class RecordingPanel(QGroupBox):
    start_requested = pyqtSignal()
    stop_requested = pyqtSignal()
    required_changed = pyqtSignal(list)

    def __init__(self, root: Path, parent: QWidget | None = None) -> None:
        super().__init__("Recording", parent)
        self.root = Path(root)
        self._active = False
        self.path_ok = False
        self.participant = QLineEdit("P001")
        self.session = QLineEdit("01")
        self.task = QLineEdit("rating")
        self.run = QLineEdit("1")
        for edit, name in ((self.participant, "participant"), (self.session, "session"),
                           (self.task, "task"), (self.run, "run")):
            edit.setObjectName(name)
            edit.textChanged.connect(self.update_path)
        fields = QGridLayout()
        fields.addWidget(QLabel("Participant"), 0, 0)
        fields.addWidget(self.participant, 0, 1)
        fields.addWidget(QLabel("Session"), 0, 2)
        fields.addWidget(self.session, 0, 3)
        fields.addWidget(QLabel("Task"), 1, 0)
        fields.addWidget(self.task, 1, 1)
        fields.addWidget(QLabel("Run"), 1, 2)
        fields.addWidget(self.run, 1, 3)

        self.root_button = QPushButton("Folder…")
        self.root_button.clicked.connect(self.choose_root)
        self.path_label = QLabel()
        self.path_label.setObjectName("path")
        self.path_label.setWordWrap(True)
        self.path_label.setTextInteractionFlags(self.path_label.textInteractionFlags().TextSelectableByMouse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_label, 1)
        path_row.addWidget(self.root_button)

        self.required_boxes: list[tuple[QCheckBox, str]] = []
        req_row = QHBoxLayout()
        req_row.addWidget(QLabel("Required:"))
        for label, type_ in REQUIRED_CHOICES:
            box = QCheckBox(label)
            box.setObjectName(f"require_{type_}")
            box.setChecked(type_ in ("Gaze", "GSR"))
            box.toggled.connect(self._required_toggled)
            self.required_boxes.append((box, f"type='{type_}'"))
            req_row.addWidget(box)
        req_row.addStretch(1)
        self.extra_required = QLineEdit()
        self.extra_required.setPlaceholderText("more required streams: LSL query, e.g. name='Biosemi'")
        self.extra_required.editingFinished.connect(self._required_toggled)

        self.start_button = QPushButton("Start recording")
        self.start_button.setObjectName("start")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop")
        self.stop_button.setEnabled(False)
        self.start_button.clicked.connect(self.start_requested)
        self.stop_button.clicked.connect(self.stop_requested)
        self.elapsed = QLabel(format_elapsed(0))
        self.elapsed.setObjectName("elapsed")
        self.size = QLabel("")
        self.size.setStyleSheet(f"color:{GREY};")
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.stop_button, 1)
        buttons.addSpacing(12)
        buttons.addWidget(self.elapsed)
        buttons.addWidget(self.size)

        self.counts = QTableWidget(0, 4)
        self.counts.setHorizontalHeaderLabels(["In the file", "Samples", "Hz", "Gaps"])
        self.counts.verticalHeader().setVisible(False)
        self.counts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.counts.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.counts.setMinimumHeight(60)
        self.counts.setMaximumHeight(240)
        self.message = QLabel("")
        self.message.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(fields)
        layout.addLayout(path_row)
        layout.addLayout(req_row)
        layout.addWidget(self.extra_required)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.counts)
        self.update_path()

    # -- fields ------------------------------------------------------------------
    def fields(self) -> SessionFields:
        return SessionFields(participant=self.participant.text().strip(), session=self.session.text().strip(),
                             task=self.task.text().strip(), run=self.run.text().strip())

    def target(self) -> Path:
        """The file Start would create (raises NamingError for unusable fields)."""
        fields = self.fields()
        if not fields.run.isdigit():
            raise NamingError(f"run {fields.run!r}: use a number")
        return bids_path(self.root, next_free_run(self.root, fields))

    def update_path(self) -> None:
        try:
            path = self.target()
        except NamingError as exc:
            self.path_label.setText(f"<span style='color:{RED}'>{exc}</span>")
            self.path_ok = False
        else:
            try:
                shown = path.relative_to(Path.cwd())
            except ValueError:
                shown = path
            note = ""
            if Path(bids_path(self.root, self.fields())) != path:
                note = f" <span style='color:{GREY}'>(run {self.run.text()} exists: next free run)</span>"
            self.path_label.setText(f"→ {shown}{note}")
            self.path_ok = True
        self._enable()

    def advance_run(self) -> None:
        """After a recording: the Run field shows the run the next Start will write, as the path does."""
        fields = self.fields()
        if fields.run.isdigit():
            try:
                self.run.setText(next_free_run(self.root, fields).run)
            except NamingError:
                pass  # update_path says what is wrong
        self.update_path()

    def choose_root(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for recordings", str(self.root))
        if folder:
            self.root = Path(folder)
            self.update_path()

    def required(self) -> list[str]:
        """Required streams as LSL predicates (raises QueryError for a bad typed one)."""
        preds = [pred for box, pred in self.required_boxes if box.isChecked()]
        extra = self.extra_required.text().strip()
        if extra:
            check_predicate(extra)
            preds.append(extra)
        return preds

    def _required_toggled(self) -> None:
        try:
            preds = self.required()
        except QueryError as exc:
            self.message.setText(f"<span style='color:{RED}'>{exc}</span>")
            return
        self.required_changed.emit(preds)

    # -- state -------------------------------------------------------------------
    def _enable(self, active: bool | None = None) -> None:
        if active is None:
            active = self._active
        self._active = active
        for w in (self.participant, self.session, self.task, self.run, self.root_button, self.extra_required,
                  *(b for b, _ in self.required_boxes)):
            w.setEnabled(not active)
        self.start_button.setEnabled(not active and self.path_ok)

    def show_snapshot(self, snap: Snapshot, now: float) -> None:
        active = snap.active
        if active != self._active:
            self._enable(active)
            if not active:
                self.advance_run()
        self.stop_button.setEnabled(snap.state in (STARTING, RECORDING))
        self.stop_button.setText("Stopping…" if snap.state == STOPPING else "Stop")
        self.elapsed.setText(format_elapsed(snap.elapsed(now)))
        self.size.setText(format_size(snap.size) if snap.path is not None else "")
        rows = snap.rows
        if self.counts.rowCount() != len(rows):
            self.counts.setRowCount(len(rows))
        for r, row in enumerate(rows):
            rate = f"{row.measured_srate:.1f}" if row.nominal_srate else "irreg."
            gaps = f"{row.gaps}" if row.gaps else ""
            for c, text in enumerate((row.name, f"{row.samples:,}", rate, gaps)):
                item = self.counts.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.counts.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)

    def sample_counts(self) -> dict[str, int]:
        """Stream name to samples written, as shown (tests read this)."""
        out = {}
        for r in range(self.counts.rowCount()):
            name, samples = self.counts.item(r, 0), self.counts.item(r, 1)
            if name is not None and samples is not None:
                out[name.text()] = int(samples.text().replace(",", ""))
        return out
