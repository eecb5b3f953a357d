"""The replay bar: watch a recording again, as if live, through the same plots and tables.

A ``Player`` re-publishes the file's streams on LSL, so the live hub, the
plots, the streams table and the marker log see them exactly as they see
devices. The GUI thread never waits on the file: indexing a large file,
publishing the outlets and closing the player (which joins its thread)
run in a worker through ``Background``. Play, pause, seek, speed and loop
only take the player's short lock, so they are called directly.

While a replay is open the bar says so in a coloured band, because the
traces look exactly like a live session.
"""
from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSlider,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from acquisition.player import FINISHED, PLAYING, Player, replay_source_id
from gui.background import Background
from gui.style import GREY, RED

log = logging.getLogger(__name__)

SPEEDS = [0.5, 1.0, 2.0, 4.0, 10.0]
REFRESH_MS = 200
SLIDER_STEPS_PER_SECOND = 10  # the slider moves in tenths of a second
REPLAY_BAND = ("background:#EDE4F5; color:#3B1F5C; border:1px solid #7A4EAB; border-radius:4px; "
               "padding:6px; font-weight:bold;")


def session_clock(seconds: float) -> str:
    """Session time as mm:ss, or h:mm:ss from an hour on."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def open_player(path: Path, speed: float, loop: bool) -> Player:
    """Index the file and publish its outlets (worker thread: a long file takes a moment)."""
    player = Player(path, speed=speed, loop=loop)
    try:
        player.open()
    except Exception:
        player.close()
        raise
    return player


class ReplayPanel(QFrame):
    """Open, play, pause, seek, speed, loop and close a replay; shows whose file is playing."""

    opened = pyqtSignal(str)  # the file's path
    closed = pyqtSignal()

    def __init__(self, background: Background, folder: Path = Path("."), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replay")
        self.background = background
        self.folder = Path(folder)
        self.player: Player | None = None
        self.path: Path | None = None
        self.busy = ""  # "opening" or "closing" while the worker holds the player
        self.replayed: set[tuple[str, str]] = set()  # (name, source_id) of the last file opened
        self._recording = False
        self._syncing = False
        self._then_open: Path | None = None
        self._shut = False

        self.band = QLabel("")
        self.band.setObjectName("replay_band")
        self.band.setStyleSheet(REPLAY_BAND)
        self.band.setWordWrap(True)
        self.band.hide()

        self.open_button = QPushButton("Open recording…")
        self.open_button.setObjectName("replay_open")
        self.open_button.setToolTip("Replay an XDF recording as if it were live")
        self.open_button.clicked.connect(self.choose_file)
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("replay_play")
        self.play_button.setMinimumWidth(90)
        self.play_button.clicked.connect(self.toggle_play)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("replay_seek")
        self.slider.setPageStep(10 * SLIDER_STEPS_PER_SECOND)
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.sliderReleased.connect(lambda: self.seek(self.slider.value() / SLIDER_STEPS_PER_SECOND))
        self.time_label = QLabel("00:00 / 00:00")
        self.time_label.setObjectName("replay_time")
        self.time_label.setStyleSheet("font-family: monospace; font-weight: bold;")
        self.speed = QComboBox()
        self.speed.setObjectName("replay_speed")
        self.speed.addItems([f"{s:g}×" for s in SPEEDS])
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.currentIndexChanged.connect(self._speed_changed)
        self.loop = QCheckBox("Loop")
        self.loop.setObjectName("replay_loop")
        self.loop.toggled.connect(self._loop_changed)
        self.close_button = QPushButton("Close replay")
        self.close_button.setObjectName("replay_close")
        self.close_button.clicked.connect(self.close_replay)
        self.note = QLabel("Replay: watch a recording again as if it were live.")
        self.note.setStyleSheet(f"color:{GREY};")

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.open_button)
        row.addWidget(self.play_button)
        row.addWidget(self.slider, 1)
        row.addWidget(self.time_label)
        self.speed_label = QLabel("Speed")
        row.addWidget(self.speed_label)
        row.addWidget(self.speed)
        row.addWidget(self.loop)
        row.addWidget(self.close_button)
        row.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.addWidget(self.band)
        layout.addLayout(row)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(REFRESH_MS)
        self.refresh()

    # -- state -------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """A replay is open, being opened or still withdrawing its streams."""
        return self.player is not None or bool(self.busy)

    def stream_ids(self) -> set[tuple[str, str]]:
        """(name, source_id) of the streams being replayed now."""
        return set(self.replayed) if self.player is not None else set()

    def set_recording(self, recording: bool) -> None:
        """No replay starts while a recording runs: its streams would enter the file."""
        if recording != self._recording:
            self._recording = recording
            self.refresh()

    # -- opening and closing ----------------------------------------------------
    def choose_file(self) -> None:
        dialog = QFileDialog(self, "Open a recording to replay", str(self.folder),
                             "XDF recordings (*.xdf);;All files (*)")
        dialog.setObjectName("replay_dialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        if dialog.exec() and dialog.selectedFiles():
            self.open_file(Path(dialog.selectedFiles()[0]))

    def open_file(self, path: str | Path) -> None:
        """Open ``path`` for replay (closing the current replay first); the result arrives later."""
        path = Path(path)
        if self._recording or self.busy == "opening":
            return
        self.folder = path.parent
        if self.player is not None or self.busy == "closing":
            self._then_open = path
            if self.player is not None:
                self.close_replay()
            return
        self.busy = "opening"
        self.note.setText(f"opening {path.name}…")
        speed, loop = SPEEDS[self.speed.currentIndex()], self.loop.isChecked()
        self.background.run(lambda: open_player(path, speed, loop), lambda result: self._opened(path, result),
                            "replay-open")
        self.refresh()

    def _opened(self, path: Path, result: Any) -> None:
        self.busy = ""
        if self._shut:  # the window closed while the file was opening
            if not isinstance(result, Exception):
                result.close()
            return
        if isinstance(result, Exception):
            self.note.setText("")
            self.refresh()
            self.show_error(path, result)
            return
        self.player, self.path = result, path
        self.replayed = {(s.name, replay_source_id(s.source_id) if s.source_id else "") for s in result.streams}
        self.slider.setRange(0, int(round(result.duration * SLIDER_STEPS_PER_SECOND)))
        warning = ""
        if result.index.truncated:
            warning = f"<span style='color:{RED}'>the file ends inside a chunk: replaying up to its last whole chunk</span>"
        if result.index.problem_count:
            warning += (f"<span style='color:{RED}'> damaged parts skipped ({result.index.skipped_bytes} bytes; "
                        f"point here for what)</span>")
        self.note.setText(warning)
        self.note.setToolTip(html.escape(result.index.summary()).replace("\n", "<br>")
                             if result.index.problem_count else "")
        self.refresh()
        self.opened.emit(str(path))

    def show_error(self, path: Path, error: Exception) -> None:
        """A bad file: say which file and what is wrong, and wait for the experimenter to read it."""
        detail = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
        box = QMessageBox(QMessageBox.Icon.Critical, "Cannot replay this file",
                          f"Could not open {path.name} for replay.\n\n{detail}", parent=self)
        box.setObjectName("replay_error")
        box.exec()

    def close_replay(self) -> None:
        """Stop and withdraw the replayed streams (in a worker: stopping joins the player's thread)."""
        player, self.player = self.player, None
        if player is None:
            return
        self.busy = "closing"
        self.note.setText(f"closing {self.path.name if self.path else 'replay'}…")
        self.background.run(player.close, self._closed, "replay-close")
        self.refresh()

    def _closed(self, _: Any) -> None:
        self.busy = ""
        if self._shut:
            return
        self.path = None
        self.note.setText("Replay: watch a recording again as if it were live.")
        self.refresh()
        self.closed.emit()
        follow, self._then_open = self._then_open, None
        if follow is not None:
            self.open_file(follow)

    def shutdown(self) -> None:
        """Close at once (the window is going away)."""
        self._shut = True
        self.timer.stop()
        player, self.player = self.player, None
        if player is not None:
            player.close()

    # -- transport ---------------------------------------------------------------
    def toggle_play(self) -> None:
        if self.player is None:
            return
        if self.player.state == PLAYING:
            self.player.pause()
        else:
            self.player.play()
        self.refresh()

    def seek(self, seconds: float) -> None:
        if self.player is not None:
            self.player.seek(seconds)
            self.refresh()

    def _slider_moved(self, value: int) -> None:
        if self._syncing or self.player is None:
            return
        seconds = value / SLIDER_STEPS_PER_SECOND
        if self.slider.isSliderDown():  # dragging: show where it would go, seek on release
            self.time_label.setText(f"{session_clock(seconds)} / {session_clock(self.player.duration)}")
        else:
            self.seek(seconds)

    def _speed_changed(self, index: int) -> None:
        if self.player is not None:
            self.player.speed = SPEEDS[index]

    def _loop_changed(self, on: bool) -> None:
        if self.player is not None:
            self.player.loop = on

    # -- display -------------------------------------------------------------------
    def refresh(self) -> None:
        """Controls, position and the replay band from the player's state (5 times a second)."""
        player = self.player
        ready = player is not None
        for w in (self.play_button, self.slider, self.speed, self.loop):
            w.setEnabled(ready)
        for w in (self.play_button, self.slider, self.time_label, self.speed_label, self.speed, self.loop):
            w.setVisible(ready)
        self.close_button.setVisible(ready or self.busy == "closing")
        self.close_button.setEnabled(ready)
        self.open_button.setEnabled(not self._recording and not self.busy)
        self.open_button.setToolTip("Stop the recording to open a replay" if self._recording
                                    else "Replay an XDF recording as if it were live")
        self.note.setVisible(bool(self.note.text()))
        if player is None:
            if self.busy == "closing":
                self.band.setText(f"Closing the replay of {self.path.name if self.path else 'a recording'}: "
                                  "its streams are leaving the network.")
            self.band.setVisible(self.busy == "closing")
            return
        state = player.state
        text = "Pause" if state == PLAYING else "Play again" if state == FINISHED else "Play"
        if self.play_button.text() != text:
            self.play_button.setText(text)
            icon = QStyle.StandardPixmap.SP_MediaPause if state == PLAYING else QStyle.StandardPixmap.SP_MediaPlay
            self.play_button.setIcon(self.style().standardIcon(icon))
        if not self.slider.isSliderDown():
            self._syncing = True
            self.slider.setValue(int(round(player.position * SLIDER_STEPS_PER_SECOND)))
            self._syncing = False
            self.time_label.setText(f"{session_clock(player.position)} / {session_clock(player.duration)}")
        doing = {PLAYING: "playing", FINISHED: "at the end"}.get(state, "paused")
        band = (f"REPLAY of {self.path.name if self.path else 'a recording'} ({doing}) — not a live session. "
                "Recording is off until the replay is closed.")
        if player.error:
            band += f"  Replay stopped: {player.error}"
        if self.band.text() != band:
            self.band.setText(band)
        self.band.show()
