"""Runs a protocol's task script on a virtual clock: the same trials and markers, no waiting.

The task runner's script (``stimulus.runner._Run.script``) yields what it
needs next (show a screen, wait, collect an answer); the Qt engine resolves
those steps in real time. This driver resolves them arithmetically instead:
a screen appears on the next 60 Hz frame at or after its requested time, a
wait ends at its time, a simulated participant answers after its reaction
time (or the step times out). So a simulated cohort goes through exactly the
trial order, timing rules, staircase and feedback of a real session, with
the simulated participant, in a fraction of a second per session.

Faces are drawn (the script prepares their images), so a Qt GUI application
must exist; no window is opened.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from stimulus.engine import Respond, Response, Show, Wait
from stimulus.markers import ListSink, MarkerOutput, TeeSink
from stimulus.participant import SimulatedParticipant
from stimulus.protocol import DEFAULT_WINDOW_SIZE, Protocol, load_protocol
from stimulus.runner import RunResult, _Run
from stimulus.stimuli import StimulusSet
from stimulus.training import check_staircase
from stimulus.trials import plan
from stimulus.window import ensure_app

FRAME = 1 / 60  # refresh period of the virtual display, seconds


@dataclass
class VirtualScreen:
    """What the task script asks of its window: its size in pixels (and display settings)."""

    size: tuple[int, int] = DEFAULT_WINDOW_SIZE
    display: Any = None
    key_step: float = 1.0

    def width(self) -> int:
        return self.size[0]

    def height(self) -> int:
        return self.size[1]


class VirtualClock:
    """The run's "now"; markers sent without a time are stamped with it."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.now = start

    def next_frame(self, at: float | None) -> float:
        want = max(self.now, at if at is not None else self.now)
        frames = math.ceil((want - self.start) / FRAME - 1e-9)
        self.now = self.start + frames * FRAME
        return self.now


class _Stamped:
    """Stamps timeless markers with the virtual clock before handing them on."""

    def __init__(self, sink: MarkerOutput, clock: VirtualClock) -> None:
        self.sink, self.clock = sink, clock

    def send(self, event: str, timestamp: float | None = None, **fields: Any) -> None:
        self.sink.send(event, timestamp=self.clock.now if timestamp is None else timestamp, **fields)


def run_virtual(protocol: Protocol | str, sink: MarkerOutput | None, participant: SimulatedParticipant, *,
                start: float, seed: int | None = None, size: tuple[int, int] = DEFAULT_WINDOW_SIZE) -> RunResult:
    """Run a whole protocol with a simulated participant on a clock starting at ``start``.

    Returns the same ``RunResult`` (trials, markers) that ``run_protocol`` returns;
    speed is 1, so every duration is the protocol's own.
    """
    if isinstance(protocol, str):
        protocol = load_protocol(protocol)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # faces are drawn, nothing is shown
    ensure_app()
    stimset = StimulusSet.for_spec(protocol.stimuli)
    plans = plan(protocol, stimset, seed)
    if protocol.task == "training":
        check_staircase(protocol, stimset.intensities())
    clock = VirtualClock(start)
    kept = ListSink()
    stamped = _Stamped(TeeSink(*(s for s in (sink, kept) if s is not None)), clock)
    screen = VirtualScreen(size, protocol.display, protocol.rating.key_step)
    run = _Run(protocol, stimset, plans, screen, stamped, participant, 1.0,  # type: ignore[arg-type]
               protocol.seed if seed is None else seed)
    script = run.script()
    reply: Any = None
    while True:
        try:
            step = script.send(reply)
        except StopIteration:
            break
        if isinstance(step, Show):
            reply = clock.next_frame(step.at)
        elif isinstance(step, Wait):
            clock.now = max(clock.now, step.until)
            reply = None
        elif isinstance(step, Respond):
            reply = _answer(step, clock)
        else:  # pragma: no cover - the script yields only the three step kinds
            raise TypeError(f"unknown task step {step!r}")
    result = run.result
    result.markers = kept.markers
    return result


def _answer(step: Respond, clock: VirtualClock) -> Response:
    answer = step.answer
    if answer is not None and step.since + answer.rt < step.deadline:
        clock.now = max(clock.now, step.since + answer.rt)
        value = answer.rating if step.kind == "rating" else answer.choice if step.kind == "choice" else None
        return Response(step.kind, value, clock.now, False)
    clock.now = max(clock.now, step.deadline)
    return Response(step.kind, None, clock.now, True)
