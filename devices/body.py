"""A simulated participant's body: the simulated devices react to what the screen shows.

The stimulus task sends its markers here as well as to the marker bus
(anything with ``send(event, timestamp=None, **fields)`` is a marker sink),
so a rehearsal or demo recording carries the effects the study looks for:
a skin conductance response a couple of seconds after each face (larger for
clearer emotions), the face's expression mirrored on the webcam score, and
gaze on the face's eyes and mouth while it is shown.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from devices.lab import SimulatedLab


@dataclass(frozen=True)
class FaceRegions:
    """Where a face's features are on the screen (normalised 0..1, origin top-left)."""

    eyes: tuple[tuple[float, float], ...]
    mouth: tuple[float, float]

    @classmethod
    def centred(cls, face_height: float, aspect: float) -> "FaceRegions":
        """A face drawn ``face_height`` of the screen tall in the middle of a ``aspect`` (w/h) screen."""
        def at(fx: float, fy: float) -> tuple[float, float]:  # face-image fraction -> screen
            return 0.5 + (fx - 0.5) * face_height / aspect, 0.5 + (fy - 0.5) * face_height

        return cls(eyes=(at(0.38, 0.555), at(0.62, 0.555)), mouth=at(0.5, 0.77))


class SimulatedBody:
    """Turns face onsets into stimulus-locked SCRs, mirrored expression and gaze on the face."""

    def __init__(self, lab: SimulatedLab, regions: FaceRegions, scr_latency: float = 2.0,
                 scr_amplitude: float = 0.4, seed: int = 11) -> None:
        self.lab = lab
        self.regions = regions
        self.scr_latency = scr_latency
        self.scr_amplitude = scr_amplitude
        self.rng = random.Random(seed)
        self.faces = 0

    def send(self, event: str, timestamp: float | None = None, **fields: Any) -> None:
        if event == "face_onset":
            self.faces += 1
            morph = float(fields.get("morph") or 0.0)
            if self.lab.gsr is not None:  # arousal grows with how clear the emotion is
                amplitude = self.scr_amplitude * (0.5 + abs(morph)) * self.rng.uniform(0.8, 1.2)
                self.lab.gsr.respond(self.scr_latency + self.rng.uniform(-0.3, 0.3), amplitude)
            if self.lab.expression is not None:
                self.lab.expression.express(0.6 * morph)
            if self.lab.eyetracker is not None:  # eyes twice as often as the mouth
                r = self.regions
                self.lab.eyetracker.attend([*r.eyes, *r.eyes, r.mouth])
        elif event in ("face_offset", "protocol_end"):
            if self.lab.eyetracker is not None:
                self.lab.eyetracker.attend(None)
            if self.lab.expression is not None:
                self.lab.expression.express(0.0)
