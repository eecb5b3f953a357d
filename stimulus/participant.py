"""A simulated participant, so the whole task runs headless in demos and tests.

It answers through the window's real input path (clicks on the scale and
buttons, key presses), so a simulated session exercises the same code a
person does. Its judgement is a noisy reading of the face's morph:

    felt = 50 + 50 * gain * morph + bias + Normal(0, noise)     (0-100 scale)

``bias`` is the interpretation bias in rating points (negative: faces look
sadder than they are). Corrective feedback in training moves ``bias`` a
``learning_rate`` fraction of the way toward ``post_bias`` per trial, which
reproduces the paradigm's finding: ambiguous faces rated slightly negative
before training and positive after (about 5 % of the scale).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Answer:
    """What the participant does and how long it takes (seconds of protocol time)."""

    rt: float
    rating: float | None = None
    choice: str | None = None


@dataclass
class SimulatedParticipant:
    bias: float = -3.0
    post_bias: float | None = 2.0
    noise: float = 5.0
    gain: float = 0.85
    neutral_band: float = 8.0  # |felt - 50| below this is called neutral
    learning_rate: float = 0.25
    rt_mean: float = 1.1
    rt_sd: float = 0.25
    rt_min: float = 0.3
    miss_rate: float = 0.0  # chance of not answering at all (a time-out)
    read_time: float = 1.0  # seconds before pressing space on instructions and breaks
    seed: int = 7
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"attune-participant:{self.seed}")

    def felt(self, morph: float) -> float:
        return 50.0 + 50.0 * self.gain * morph + self.bias + self.rng.gauss(0.0, self.noise)

    def _rt(self) -> float:
        return max(self.rt_min, self.rng.gauss(self.rt_mean, self.rt_sd))

    def rate(self, morph: float) -> Answer | None:
        if self.rng.random() < self.miss_rate:
            return None
        value = min(100.0, max(0.0, self.felt(morph)))
        return Answer(self._rt(), rating=round(value, 1))

    def classify(self, morph: float) -> Answer | None:
        if self.rng.random() < self.miss_rate:
            return None
        felt = self.felt(morph) - 50.0
        choice = "happy" if felt > self.neutral_band else "sad" if felt < -self.neutral_band else "neutral"
        return Answer(self._rt(), choice=choice)

    def learn(self, correct: bool) -> None:
        """Corrective feedback pulls the bias toward ``post_bias`` (errors teach more)."""
        if self.post_bias is None:
            return
        rate = self.learning_rate * (1.0 if not correct else 0.5)
        self.bias += rate * (self.post_bias - self.bias)
