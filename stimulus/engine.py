"""Drives a task script on the Qt event loop, one timed step at a time.

A task is a generator that yields what it needs next: ``Show`` a screen
(resumed with the flip time of the frame that showed it), ``Wait`` until a
time, ``Until`` a signal or a deadline (gaze-contingent display), or
``Respond`` (resumed with the participant's answer or a time-out).
Writing the task as a straight sequence keeps the trial readable, and the
engine keeps the event loop free between steps, so frames, input and timers
run exactly as they would with a person in front of the screen.

All times are on the LSL clock (``local_clock``). A simulated participant's
answer is delivered as a real click or key press at its scheduled time.
"""
from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import QEventLoop, QObject, Qt, QTimer

from stimulus import scenes
from stimulus.clock import local_clock
from stimulus.participant import Answer
from stimulus.window import StimulusWindow

#: A frame that has not appeared this long after it was asked for means the window is
#: hidden or minimised (Qt Quick does not render unexposed windows): stop loudly.
FRAME_TIMEOUT = 3.0


class Aborted(Exception):
    """The experimenter pressed Escape."""


@dataclass(frozen=True)
class Show:
    screen: scenes.Screen
    at: float | None = None  # LSL time the screen should appear; None = next frame


@dataclass(frozen=True)
class Wait:
    until: float


@dataclass(frozen=True)
class Until:
    """Wait for ``signal`` (a bound Qt signal; resumed with True) or ``deadline`` (resumed with False)."""

    deadline: float
    signal: Any


@dataclass(frozen=True)
class Respond:
    kind: str  # rating, choice or proceed
    deadline: float
    answer: Answer | None = None  # simulated participant: what to do, rt already scaled
    since: float = 0.0


@dataclass(frozen=True)
class Response:
    kind: str
    value: Any  # rating (float), choice (str) or None
    time: float
    timed_out: bool


Script = Generator[Show | Wait | Until | Respond, Any, None]


class Engine(QObject):
    """Owns the stepping of one task script on the Qt event loop: shows, waits and answers in order.

    Called by stimulus.runner.run_protocol with the StimulusWindow the script draws on."""

    def __init__(self, window: StimulusWindow) -> None:
        super().__init__()
        self.window = window
        self._loop = QEventLoop()
        self._timer = self._make_timer(self._on_timer)
        self._sim_timer = self._make_timer(self._on_sim)
        self._watchdog = self._make_timer(self._on_watchdog)
        self._gen: Script | None = None
        self._state: tuple = ("idle",)
        self._sim_action: tuple | None = None
        self._error: BaseException | None = None
        self._abort_pending = False
        self._until: Any = None  # the connection an Until step waits on
        # kept so run() can let go of the window: a reused window must not feed old engines
        self._connections = [
            window.onset.connect(self._on_onset),
            window.rated.connect(lambda value, t: self._on_response("rating", value, t)),
            window.chosen.connect(lambda value, t: self._on_response("choice", value, t)),
            window.proceeded.connect(lambda t: self._on_response("proceed", None, t)),
            window.abort_requested.connect(self._on_abort),
        ]

    def _make_timer(self, slot) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.timeout.connect(slot)
        return timer

    def run(self, script: Script) -> None:
        """Run ``script`` to its end; re-raises whatever the script raised."""
        self._gen = script
        QTimer.singleShot(0, lambda: self._advance(None))
        self._loop.exec()
        for timer in (self._timer, self._sim_timer, self._watchdog):
            timer.stop()
        self._end_until()
        for connection in self._connections:
            QObject.disconnect(connection)
        self._connections = []
        if self._error is not None:
            raise self._error

    # -- stepping --------------------------------------------------------------
    def _advance(self, value: Any, error: BaseException | None = None) -> None:
        self._state = ("busy",)
        try:
            command = self._gen.throw(error) if error is not None else self._gen.send(value)
        except StopIteration:
            self._finish()
            return
        except BaseException as exc:
            self._error = exc
            self._finish()
            return
        if self._abort_pending:
            self._abort_pending = False
            self._advance(None, Aborted())
            return
        self._dispatch(command)

    def _finish(self) -> None:
        self._state = ("done",)
        self._loop.quit()

    def _dispatch(self, command: Show | Wait | Respond) -> None:
        now = local_clock()
        if isinstance(command, Show):
            request_at = None if command.at is None else command.at - self.window.frame_lead()
            if request_at is not None and request_at - now > 0.0005:
                self._state = ("show-later", command.screen)
                self._start(self._timer, request_at - now)
            else:
                self._present(command.screen)
        elif isinstance(command, Wait):
            self._state = ("wait",)
            self._start(self._timer, command.until - now)
        elif isinstance(command, Until):
            self._state = ("until",)
            self._until = command.signal.connect(self._on_until)
            self._start(self._timer, command.deadline - now)
        elif isinstance(command, Respond):
            self._state = ("respond", command.kind)
            self._start(self._timer, command.deadline - now)
            answer = command.answer
            if answer is not None:
                self._sim_action = (command.kind, answer)
                self._start(self._sim_timer, command.since + answer.rt - now)
        else:
            self._advance(None, TypeError(f"a task step must be Show, Wait, Until or Respond, not {command!r}"))

    def _present(self, screen: scenes.Screen) -> None:
        version = self.window.present(screen)
        self._state = ("show", version)
        self._start(self._watchdog, FRAME_TIMEOUT)

    @staticmethod
    def _start(timer: QTimer, seconds: float) -> None:
        timer.start(max(0, round(seconds * 1000)))

    # -- events ----------------------------------------------------------------
    def _on_timer(self) -> None:
        kind = self._state[0]
        if kind == "show-later":
            self._present(self._state[1])
        elif kind == "wait":
            self._advance(None)
        elif kind == "until":
            self._end_until()
            self._advance(False)
        elif kind == "respond":
            self._sim_timer.stop()
            self._advance(Response(self._state[1], None, local_clock(), True))

    def _on_onset(self, version: int, flip_time: float, _requested: float) -> None:
        if self._state[0] == "show" and self._state[1] == version:
            self._watchdog.stop()
            self._advance(flip_time)

    def _on_until(self, *_: Any) -> None:
        if self._state[0] == "until":
            self._timer.stop()
            self._end_until()
            self._advance(True)

    def _end_until(self) -> None:
        if self._until is not None:
            QObject.disconnect(self._until)
            self._until = None

    def _on_response(self, kind: str, value: Any, when: float) -> None:
        if self._state == ("respond", kind):
            self._timer.stop()
            self._sim_timer.stop()
            self._advance(Response(kind, value, when, False))

    def _on_sim(self) -> None:
        if self._sim_action is None or self._state[0] != "respond":
            return
        kind, answer = self._sim_action
        self._sim_action = None
        if kind == "rating" and answer.rating is not None:
            self.window.click(self.window.rating_point(answer.rating))
        elif kind == "choice" and answer.choice is not None:
            self.window.click(self.window.choice_point(answer.choice))
        elif kind == "proceed":
            self.window.press_key(Qt.Key.Key_Space, " ")

    def _on_watchdog(self) -> None:
        if self._state[0] == "show":
            self._advance(None, RuntimeError(
                f"the stimulus window showed no frame for {FRAME_TIMEOUT:.0f} s after a screen was "
                "requested; is it hidden or minimised?"))

    def _on_abort(self) -> None:
        if self._state[0] in ("idle", "done"):
            return
        if self._state[0] == "busy":
            self._abort_pending = True
            return
        for timer in (self._timer, self._sim_timer, self._watchdog):
            timer.stop()
        self._end_until()
        self._advance(None, Aborted())
