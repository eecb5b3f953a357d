"""Simulated screen-based eye tracker (Tobii-like layout plus validity channels).

Gaze follows the oculomotor cycle: fixations of 150-500 ms with small
drift and tremor, saccades of 20-60 ms between targets, and a blink every
few seconds during which both eyes are invalid (NaN, validity 0). Pupil
diameter wanders slowly around 3.5 mm. Coordinates are screen-normalised
(0..1, origin top-left), as the Tobii Pro SDK reports them.
"""
from __future__ import annotations

import numpy as np

from devices.metadata import Channel, stream_info
from devices.simulated import SampleSource

CHANNELS = [
    Channel("left_x", "normalized", "ScreenX"),
    Channel("left_y", "normalized", "ScreenY"),
    Channel("left_pupil", "mm", "Diameter"),
    Channel("right_x", "normalized", "ScreenX"),
    Channel("right_y", "normalized", "ScreenY"),
    Channel("right_pupil", "mm", "Diameter"),
    Channel("left_valid", "bool", "Validity"),
    Channel("right_valid", "bool", "Validity"),
]

FIXATION, SACCADE, BLINK = 0, 1, 2


class EyeTrackerSource(SampleSource):
    def __init__(self, rate: float = 300.0, name: str = "SimEyeTracker",
                 source_id: str = "attune-sim-eyetracker", seed: int = 1) -> None:
        self.rate = rate
        self.info = stream_info(name, "Gaze", CHANNELS, rate, "float32", source_id)
        self.rng = np.random.default_rng(seed)
        self.gaze = np.array([0.5, 0.5])
        self.target = self.gaze.copy()
        self.state = FIXATION
        self.left_in_state = self._duration(FIXATION)
        self.saccade_from = self.gaze.copy()
        self.saccade_len = 1
        self.pupil = 3.5
        self.until_blink = int(self.rng.uniform(2.0, 6.0) * rate)
        self.targets: tuple[tuple[float, float], ...] = ()

    def attend(self, targets: list[tuple[float, float]] | None) -> None:
        """Look at these screen points (e.g. a face's eyes and mouth) until told otherwise.

        The current fixation ends within about 200 ms, the usual saccade
        latency to a new stimulus; ``None`` returns to free viewing.
        """
        self.targets = tuple(targets or ())
        if self.targets and self.state == FIXATION:
            self.left_in_state = min(self.left_in_state, max(1, int(0.2 * self.rate)))

    def _duration(self, state: int) -> int:
        seconds = {
            FIXATION: self.rng.gamma(6.0, 0.045) + 0.08,
            SACCADE: self.rng.uniform(0.02, 0.06),
            BLINK: self.rng.uniform(0.08, 0.16),
        }[state]
        return max(1, int(seconds * self.rate))

    def _next_state(self) -> None:
        if self.until_blink <= 0 and self.state != BLINK:
            self.state = BLINK
            self.until_blink = int(self.rng.uniform(2.0, 6.0) * self.rate)
        elif self.state == FIXATION:
            self.state = SACCADE
            self.saccade_from = self.gaze.copy()
            targets = self.targets
            if targets:  # a shown stimulus: fixate its features, with a little scatter
                point = targets[self.rng.integers(len(targets))]
                self.target = np.clip(self.rng.normal(point, 0.008), 0.02, 0.98)
            else:  # free viewing: most fixations land near the screen centre
                self.target = np.clip(self.rng.normal(0.5, 0.15, 2), 0.02, 0.98)
        else:
            self.state = FIXATION
        self.left_in_state = self._duration(self.state)
        self.saccade_len = self.left_in_state

    def generate(self, n: int) -> np.ndarray:
        out = np.empty((n, len(CHANNELS)), dtype=np.float32)
        i = 0
        while i < n:
            if self.left_in_state <= 0:
                self._next_state()
            k = min(n - i, self.left_in_state)
            rows = out[i:i + k]
            if self.state == SACCADE:
                done = self.saccade_len - self.left_in_state + np.arange(1, k + 1)
                frac = 0.5 - 0.5 * np.cos(np.pi * done / self.saccade_len)  # smooth velocity profile
                path = self.saccade_from + frac[:, None] * (self.target - self.saccade_from)
                self.gaze = path[-1]
            else:
                drift = np.cumsum(self.rng.normal(0, 0.0004, (k, 2)), axis=0)
                path = self.gaze + drift
                self.gaze = path[-1]
            tremor = self.rng.normal(0, 0.002, (k, 2))
            self.pupil += self.rng.normal(0, 0.01) - 0.02 * (self.pupil - 3.5)
            pupil = self.pupil + self.rng.normal(0, 0.02, k)
            rows[:, 0:2] = path + tremor
            rows[:, 3:5] = path + tremor + np.array([0.004, 0.0])  # vergence: eyes differ slightly
            rows[:, 2] = pupil
            rows[:, 5] = pupil + 0.05
            valid = 0.0 if self.state == BLINK else 1.0
            rows[:, 6:8] = valid
            if self.state == BLINK:
                rows[:, 0:6] = np.nan
            self.left_in_state -= k
            self.until_blink -= k
            i += k
        return out
