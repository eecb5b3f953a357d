"""A simulated participant's body: the simulated devices react to what the screen shows.

The body is a marker sink (``send(event, timestamp=None, **fields)``): the
demo hands it the task's markers directly, and ``MarkerFollower`` feeds it
the markers a marker server republishes on LSL, so devices simulated on one
computer react to a task shown on another. A rehearsal or demo recording
then carries the effects the study looks for: a skin conductance response
a couple of seconds after each face (larger for clearer emotions), the
face's expression mirrored on the webcam score, and gaze on the face's
eyes and mouth while it is shown.
"""
from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from typing import Any

import pylsl

from devices.lab import SimulatedLab
from stimulus import face_geometry
from sync.protocol import parse_sample
from sync.streams import RELAY_PREDICATE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceRegions:
    """Where a face's features are on the screen (normalised 0..1, origin top-left)."""

    eyes: tuple[tuple[float, float], ...]
    mouth: tuple[float, float]
    elsewhere: tuple[tuple[float, float], ...] = ()  # forehead and cheeks: on the face, not informative

    @classmethod
    def from_rect(cls, rect: tuple[float, float, float, float]) -> FaceRegions:
        """The features of a built-in face drawn in ``rect`` (x0, y0, x1, y1 on screen, 0..1)."""
        x0, y0, x1, y1 = rect

        def at(fx: float, fy: float) -> tuple[float, float]:  # face-image fraction -> screen
            return x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)

        return cls(eyes=tuple(at(*p) for p in face_geometry.EYE_POINTS), mouth=at(*face_geometry.MOUTH_POINT),
                   elsewhere=tuple(at(*p) for p in face_geometry.ELSEWHERE_POINTS))

    @classmethod
    def centred(cls, face_height: float, aspect: float) -> FaceRegions:
        """A face drawn ``face_height`` of the screen tall in the middle of a ``aspect`` (w/h) screen."""
        half_w, half_h = face_height / aspect / 2, face_height / 2
        return cls.from_rect((0.5 - half_w, 0.5 - half_h, 0.5 + half_w, 0.5 + half_h))


class SimulatedBody:
    """Turns face onsets into stimulus-locked SCRs, mirrored expression and gaze on the face."""

    def __init__(self, lab: SimulatedLab, regions: FaceRegions = FaceRegions.centred(0.55, 1.6),  # noqa: B008 (frozen dataclass)
                 scr_latency: float = 2.0,
                 scr_amplitude: float = 0.4, seed: int = 11, distress_gain: float = 1.0,
                 smile: float = 0.0, attention: float = 1.0, mirroring: float = 0.6) -> None:
        self.lab = lab
        self.regions = regions
        self.current = regions  # the face on screen now
        self.attention = attention  # chance of looking at eyes and mouth on her own
        self.mirroring = mirroring  # how much of a face's emotion her own face shows
        self.scr_latency = scr_latency
        self.scr_amplitude = scr_amplitude
        self.distress_gain = distress_gain  # SCR size to sad faces relative to the rest (training lowers it)
        self.smile = smile  # valence added to the mirrored expression while a face is shown
        self.rng = random.Random(seed)
        self.faces = 0

    def send(self, event: str, timestamp: float | None = None, **fields: Any) -> None:
        if event == "face_onset":
            self.faces += 1
            morph = float(fields.get("morph") or 0.0)
            if self.lab.gsr is not None:  # arousal grows with how clear the emotion is
                amplitude = self.scr_amplitude * (0.5 + abs(morph)) * self.rng.uniform(0.8, 1.2)
                if fields.get("emotion") == "sad":
                    amplitude *= self.distress_gain
                self.lab.gsr.respond(self.scr_latency + self.rng.uniform(-0.3, 0.3), amplitude)
            if self.lab.expression is not None:
                self.lab.expression.express(self.mirroring * morph + self.smile)
            if self.lab.eyetracker is not None:  # eyes twice as often as the mouth
                rect = fields.get("face_rect")  # where the task drew it, when it says
                r = self.current = FaceRegions.from_rect(rect) if rect and len(rect) == 4 else self.regions
                informed = self.rng.random() < self.attention or not r.elsewhere
                self.lab.eyetracker.attend([*r.eyes, *r.eyes, r.mouth] if informed else list(r.elsewhere))
        elif event == "feedback_cue_on":  # her gaze follows the cue, and she learns from it
            if self.lab.eyetracker is not None:
                cued = fields.get("regions") or []
                points = [*(self.current.eyes if "eyes" in cued else ()),
                          *((self.current.mouth,) if "mouth" in cued else ())]
                if points:
                    self.lab.eyetracker.attend(points)
            self.attention = min(0.95, self.attention + 0.03)
        elif event == "feedback_mirroring":
            self.mirroring = min(1.2, self.mirroring + 0.03)
        elif event == "protocol_start" and fields.get("task") == "training" and self.faces:
            self.mirroring = min(1.2, self.mirroring + 0.1)  # each training session after earlier ones
        elif event in ("face_offset", "protocol_end"):
            if self.lab.eyetracker is not None:
                self.lab.eyetracker.attend(None)
            if self.lab.expression is not None:
                self.lab.expression.express(0.0)


class MarkerFollower(threading.Thread):
    """Feeds a body the task markers that marker servers republish on LSL.

    Only markers sent after a relay stream is found are seen (LSL inlets
    start at connection), which is what a rehearsal needs.
    """

    def __init__(self, body: SimulatedBody, predicate: str = RELAY_PREDICATE) -> None:
        super().__init__(name="marker-follower", daemon=True)
        self.body = body
        self.predicate = predicate
        self.stop_event = threading.Event()
        self.followed = 0

    def run(self) -> None:
        resolver = pylsl.ContinuousResolver(pred=self.predicate, forget_after=5.0)
        inlets: dict[str, pylsl.StreamInlet] = {}
        while not self.stop_event.is_set():
            for info in resolver.results():
                if info.source_id() not in inlets:
                    inlets[info.source_id()] = pylsl.StreamInlet(info, recover=True)
            idle = True
            for inlet in inlets.values():
                try:
                    values, _ = inlet.pull_chunk(timeout=0.0)
                except Exception as exc:  # a relay gone for good: forget it
                    log.debug("marker relay lost: %s", exc)
                    continue
                for (text,) in values:
                    idle = False
                    self.follow(text)
            if idle:
                self.stop_event.wait(0.02)

    def follow(self, text: str) -> None:
        recorded = parse_sample(text)
        if recorded is None:
            return  # not one of Attune's markers
        self.followed += 1
        self.body.send(recorded.event, **recorded.fields)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(2.0)
