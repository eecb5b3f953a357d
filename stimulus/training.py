"""Training logic: the difficulty staircase, the feedback wording, the block summary.

Difficulty is the intensity of the face (|morph|): the staircase starts at
the clearest faces and moves toward the ambiguous middle as the participant
gets them right, which is where the interpretation bias lives.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import mean

from configs import ConfigError
from stimulus.protocol import Protocol


class Staircase:
    """Transformed up-down staircase over ``steps`` (intensities, clearest first)."""

    def __init__(self, steps: list[float], start: int = 0, down: int = 2, up: int = 1) -> None:
        if not steps:
            raise ValueError("a staircase needs at least one step")
        self.steps = steps
        self.level = min(max(start, 0), len(steps) - 1)
        self.down, self.up = down, up
        self._right = self._wrong = 0
        self.reversals = 0
        self._last_move = 0  # +1 harder, -1 easier

    @property
    def intensity(self) -> float:
        return self.steps[self.level]

    def update(self, correct: bool) -> None:
        move = 0
        if correct:
            self._right, self._wrong = self._right + 1, 0
            if self._right >= self.down:
                self._right, move = 0, +1
        else:
            self._wrong, self._right = self._wrong + 1, 0
            if self._wrong >= self.up:
                self._wrong, move = 0, -1
        if move:
            new = min(max(self.level + move, 0), len(self.steps) - 1)
            if new != self.level:
                if self._last_move and move != self._last_move:
                    self.reversals += 1
                self._last_move = move
                self.level = new


def check_staircase(protocol: Protocol, steps: list[float]) -> None:
    start = protocol.training.staircase.start
    if start >= len(steps):
        raise ConfigError(protocol.source, "training.staircase.start",
                          f"must be below {len(steps)} (the stimulus set has {len(steps)} intensity steps)")


def feedback_text(truth: str, response: str | None) -> tuple[bool, str, str]:
    """(correct, title, detail) for the feedback screen; always names the right answer."""
    if response is None:
        return False, "Too slow", f"This baby is {truth}."
    if response == truth:
        return True, "Correct!", f"This baby is {truth}."
    return False, "Not quite", f"This baby is {truth}, not {response}."


@dataclass(frozen=True)
class BlockSummary:
    block: str
    trials: int
    answered: int
    correct: int
    mean_rt: float | None
    final_intensity: float | None
    accuracy_by_emotion: dict[str, float]

    @property
    def accuracy(self) -> float:
        return self.correct / self.trials if self.trials else 0.0

    def text(self) -> str:
        lines = [f"You got {self.correct} of {self.trials} right ({100 * self.accuracy:.0f} %)."]
        if self.accuracy_by_emotion:
            lines.append("  ".join(f"{k.capitalize()}: {100 * v:.0f} %"
                                   for k, v in sorted(self.accuracy_by_emotion.items())))
        if self.mean_rt is not None:
            lines.append(f"Average answer time: {self.mean_rt:.2f} s")
        return "\n".join(lines)


def summarise(block: str, outcomes: list[tuple[str, bool, float | None]],
              final_intensity: float | None) -> BlockSummary:
    """``outcomes`` holds (true emotion, correct, response time or None) per trial."""
    rts = [rt for _, _, rt in outcomes if rt is not None]
    by: dict[str, list[bool]] = {}
    for emotion, ok, _ in outcomes:
        by.setdefault(emotion, []).append(ok)
    return BlockSummary(
        block=block, trials=len(outcomes), answered=len(rts),
        correct=sum(1 for _, ok, _ in outcomes if ok),
        mean_rt=round(mean(rts), 4) if rts else None,
        final_intensity=final_intensity,
        accuracy_by_emotion={k: sum(v) / len(v) for k, v in by.items()},
    )
