"""The stimulus window: shows one screen at a time and reports when it was really shown.

Onset times come from the frame, not from the request. The window is a
QQuickWindow; ``present()`` bumps a version number and asks for a repaint,
the canvas notes which version it painted, and when Qt Quick emits
``frameSwapped`` for that frame the window stamps ``local_clock()`` and
emits ``onset(version, flip_time, request_time)``. On a real display with
the basic render loop and vsync, ``frameSwapped`` follows the buffer swap,
which returns at the vertical blank that puts the frame on its way to the
screen. Under ``QT_QPA_PLATFORM=offscreen`` Qt Quick falls back to its
software renderer and the "swap" is a copy into memory: the signal still
marks the end of that frame, but there is no vsync, no monitor and no
photons, so it says nothing about display latency (see docs/stimulus.md).

An optional photodiode patch in a corner flips black/white with every
presented screen, in the same frame as the new content, so a light sensor
on the glass measures true onsets to compare against the markers.

Input (mouse and keys) is only accepted once the screen it belongs to has
been shown, so no response can predate its own scale.
"""
from __future__ import annotations

import os
import statistics
from dataclasses import dataclass

from PyQt6.QtCore import QEvent, QPointF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QCursor, QGuiApplication, QImage, QKeyEvent, QMouseEvent, QPainter
from PyQt6.QtQuick import QQuickPaintedItem, QQuickWindow, QSGRendererInterface

from stimulus import scenes
from stimulus.clock import local_clock
from stimulus.protocol import DEFAULT_WINDOW_SIZE, Display

HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc")
_backend_chosen = False


def _choose_backend() -> None:
    """Pick the Qt Quick renderer once, before the first window exists.

    Headless platforms have no GPU context, so they get the software
    renderer; real screens keep Qt's default hardware backend with vsync.
    The basic render loop keeps painting, swapping and stamping on one
    thread, in order.
    """
    global _backend_chosen
    if _backend_chosen:
        return
    os.environ.setdefault("QSG_RENDER_LOOP", "basic")
    if QGuiApplication.platformName() in HEADLESS_PLATFORMS:
        QQuickWindow.setGraphicsApi(QSGRendererInterface.GraphicsApi.Software)
    _backend_chosen = True


_own_app: QGuiApplication | None = None


def ensure_app() -> QGuiApplication:
    """The running Qt application, or a new one (kept alive here) for command-line and demo runs."""
    global _own_app
    app = QGuiApplication.instance()
    if app is None:
        _own_app = app = QGuiApplication(["attune-stimulus"])
    return app  # type: ignore[return-value]


@dataclass
class Frame:
    """One presented screen: when it was asked for, painted and swapped (LSL clock)."""

    version: int
    requested: float
    painted: float | None = None
    swapped: float | None = None


class _Canvas(QQuickPaintedItem):
    def __init__(self, window: StimulusWindow) -> None:
        super().__init__(window.contentItem())
        self._window = window
        self.setOpaquePainting(True)

    def paint(self, painter: QPainter) -> None:
        self._window._paint(painter, self.width(), self.height())


class StimulusWindow(QQuickWindow):
    """Owns the participant's screen: the current scene, the photodiode patch and the input it accepts.

    Driven by the Engine (``present``); its ``onset``/``rated``/``chosen`` signals go back to the Engine."""

    onset = pyqtSignal(int, float, float)  # version, flip time, request time
    rated = pyqtSignal(float, float)  # value 0-100, response time
    chosen = pyqtSignal(str, float)  # sad/neutral/happy, response time
    proceeded = pyqtSignal(float)
    abort_requested = pyqtSignal()
    overlay_shown = pyqtSignal(int, float)  # overlay version, swap time of the frame that showed it

    def __init__(self, display: Display | None = None) -> None:
        ensure_app()
        _choose_backend()
        super().__init__()
        self.display = display or Display()
        self.setTitle("Attune stimulus")
        self.setColor(QColor(self.display.background))
        self._canvas = _Canvas(self)
        self.widthChanged.connect(lambda w: self._canvas.setWidth(w))
        self.heightChanged.connect(lambda h: self._canvas.setHeight(h))
        self.frameSwapped.connect(self._on_swapped, Qt.ConnectionType.DirectConnection)
        self._screen: scenes.Screen = scenes.Blank()
        self._version = 0
        self._painted = 0
        self._reported = 0
        self._armed = False
        self._photodiode = False
        self._cursor: float | None = None
        self._overlay: scenes.Overlay | None = None
        self._overlay_version = 0
        self._overlay_painted = 0
        self._overlay_reported = 0
        self.key_step = 2.0  # rating points per arrow key press (x5 with shift)
        self.frames: list[Frame] = []

    # -- showing -------------------------------------------------------------
    def open(self, screen: int | None = None, windowed: bool = True,
             size: tuple[int, int] = DEFAULT_WINDOW_SIZE) -> None:
        """Windowed at ``size``, or full screen on screen number ``screen`` (0 = primary)."""
        if windowed and screen is None:
            self.resize(*size)
            self.show()
        else:
            screens = QGuiApplication.screens()
            index = screen or 0
            if not 0 <= index < len(screens):
                names = ", ".join(f"{i}: {s.name() or 'unnamed'} {s.size().width()}x{s.size().height()}"
                                  for i, s in enumerate(screens))
                raise ValueError(f"no screen {index}; this computer has {names or 'none'}")
            target = screens[index]
            self.setScreen(target)
            self.setGeometry(target.geometry())
            if windowed:
                self.resize(*size)
                self.show()
            else:
                self.showFullScreen()
        self._canvas.setWidth(self.width())
        self._canvas.setHeight(self.height())

    def present(self, screen: scenes.Screen) -> int:
        """Ask for ``screen`` on the next frame; ``onset`` reports when it got there."""
        self._version += 1
        self._screen = screen
        self._armed = False
        self._photodiode = not self._photodiode
        self._cursor = screen.cursor if isinstance(screen, scenes.RatingScreen) else None
        self.frames.append(Frame(self._version, local_clock()))
        self._set_pointer(screen)
        self._canvas.update()
        return self._version

    def set_overlay(self, overlay: scenes.Overlay | None) -> int:
        """Draw live feedback over the current screen from the next frame; ``overlay_shown`` says when."""
        self._overlay_version += 1
        self._overlay = overlay
        self._canvas.update()
        return self._overlay_version

    @property
    def overlay(self) -> scenes.Overlay | None:
        return self._overlay

    @property
    def overlay_version(self) -> int:
        return self._overlay_version

    @property
    def screen_now(self) -> scenes.Screen:
        return self._screen

    @property
    def version(self) -> int:
        return self._version

    def frame_lead(self) -> float:
        """How early to ask for a frame so it lands on time.

        A real display: half a refresh, so the swap lands on the vertical
        blank nearest the scheduled time. Headless: no vsync, a frame appears
        once it is rendered, so ask as early as rendering recently took
        (median of the last frames' request-to-swap time).
        """
        if QGuiApplication.platformName() in HEADLESS_PLATFORMS:
            recent = [f.swapped - f.requested for f in self.frames[-16:] if f.swapped is not None]
            return statistics.median(recent) if len(recent) >= 3 else 0.0
        rate = self.screen().refreshRate() if self.screen() is not None else 60.0
        return 0.5 / (rate if rate > 1 else 60.0)

    def grab(self) -> QImage:
        """The window's current content, as shown (for documentation snapshots and checks)."""
        return self.grabWindow()

    def _paint(self, painter: QPainter, w: float, h: float) -> None:
        screen = self._screen
        if isinstance(screen, scenes.RatingScreen) and screen.cursor != self._cursor:
            screen = scenes.RatingScreen(screen.prompt, screen.low_label, screen.high_label, self._cursor)
        scenes.paint(painter, screen, self.display, w, h, self._photodiode, self._overlay)
        self._painted = self._version
        self._overlay_painted = self._overlay_version
        if self.frames and self.frames[-1].version == self._version and self.frames[-1].painted is None:
            self.frames[-1].painted = local_clock()

    def _on_swapped(self) -> None:
        now = local_clock()
        if self._overlay_painted > self._overlay_reported:
            self._overlay_reported = self._overlay_painted
            self.overlay_shown.emit(self._overlay_painted, now)
        version = self._painted
        if version <= self._reported:
            return  # a repaint of something already reported (cursor moved, window exposed)
        self._reported = version
        requested = now
        for frame in reversed(self.frames):
            if frame.version == version:
                frame.swapped = now
                requested = frame.requested
                break
        if version == self._version:
            self._armed = True
        self.onset.emit(version, now, requested)

    def _set_pointer(self, screen: scenes.Screen) -> None:
        wants_pointer = isinstance(screen, (scenes.RatingScreen, scenes.ChoiceScreen, scenes.TextScreen))
        self.setCursor(QCursor(Qt.CursorShape.ArrowCursor if wants_pointer else Qt.CursorShape.BlankCursor))

    # -- input ---------------------------------------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        now = local_clock()
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.abort_requested.emit()
            return
        if not self._armed:
            return
        screen = self._screen
        confirm = key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space)
        if isinstance(screen, scenes.RatingScreen):
            step = self.key_step * (5 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1)
            if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
                start = 50.0 if self._cursor is None else self._cursor
                delta = -step if key == Qt.Key.Key_Left else step
                self._cursor = round(min(100.0, max(0.0, start + delta)), 1)
                self._canvas.update()
            elif confirm and self._cursor is not None:
                self._respond_rating(self._cursor, now)
        elif isinstance(screen, scenes.ChoiceScreen):
            choice = {Qt.Key.Key_S: "sad", Qt.Key.Key_N: "neutral", Qt.Key.Key_H: "happy",
                      Qt.Key.Key_1: "sad", Qt.Key.Key_2: "neutral", Qt.Key.Key_3: "happy"}.get(key)
            if choice in screen.options:
                self._armed = False
                self.chosen.emit(choice, now)
        elif isinstance(screen, scenes.TextScreen) and confirm:
            self._armed = False
            self.proceeded.emit(now)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        now = local_clock()
        if not self._armed or event.button() != Qt.MouseButton.LeftButton:
            return
        screen, pos = self._screen, event.position()
        w, h = float(self.width()), float(self.height())
        if isinstance(screen, scenes.RatingScreen):
            value = scenes.rating_value_at(pos, w, h)
            if value is not None:
                self._cursor = value
                self._canvas.update()
                self._respond_rating(value, now)
        elif isinstance(screen, scenes.ChoiceScreen):
            choice = scenes.choice_at(pos, screen.options, w, h)
            if choice is not None:
                self._armed = False
                self.chosen.emit(choice, now)
        elif isinstance(screen, scenes.TextScreen):
            self._armed = False
            self.proceeded.emit(now)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._armed and isinstance(self._screen, scenes.RatingScreen):
            value = scenes.rating_value_at(event.position(), float(self.width()), float(self.height()))
            if value is not None and value != self._cursor:
                self._cursor = value
                self._canvas.update()

    def _respond_rating(self, value: float, now: float) -> None:
        self._armed = False
        self.rated.emit(value, now)

    # -- synthetic input (simulated participant, tests) ------------------------
    def click(self, pos: QPointF) -> None:
        """A real left click at ``pos``, delivered through Qt's event path."""
        glob = self.mapToGlobal(pos)
        for kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
            buttons = Qt.MouseButton.LeftButton if kind == QEvent.Type.MouseButtonPress else Qt.MouseButton.NoButton
            event = QMouseEvent(kind, pos, glob, Qt.MouseButton.LeftButton, buttons,
                                Qt.KeyboardModifier.NoModifier)
            QGuiApplication.sendEvent(self, event)

    def press_key(self, key: Qt.Key, text: str = "") -> None:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QGuiApplication.sendEvent(self, QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, text))

    def rating_point(self, value: float) -> QPointF:
        return scenes.rating_point(value, float(self.width()), float(self.height()))

    def choice_point(self, option: str) -> QPointF:
        screen = self._screen
        options = screen.options if isinstance(screen, scenes.ChoiceScreen) else ("sad", "neutral", "happy")
        return scenes.choice_buttons(options, float(self.width()), float(self.height()))[option].center()
