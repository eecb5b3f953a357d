"""Real-time biofeedback during training: attention cues, expression mirroring, a calm cue.

The controller reads the gaze, expression and skin conductance streams
itself (stimulus/feedback_streams.py), decides on the Qt thread, and draws
through the stimulus window's overlay, so a decision and the frame that
shows it are one step apart. Every change the participant can see is sent
as a marker stamped with the swap time of the frame that showed it:

    feedback_check     gaze, expression, gsr (ok / missing / poor / ...), details
    feedback_baseline  smile_mean, smile_sd, gsr_mean, gaze_validity
    feedback_cue_on    regions, style, sample_time, latency   (the gaze sample that triggered it)
    feedback_cue_off   region, reason (looked, face_offset, paused)
    feedback_look      region, latency (s from face onset to the first gaze sample on it)
    feedback_dwell     dwell_eyes, dwell_mouth (gaze-contingent: every region had min_dwell)
    feedback_mirroring smile, baseline, threshold
    feedback_calm_on / feedback_calm_off   rise (uS above the level at face onset)
    feedback_paused / feedback_resumed     feed, stream, reason
    feedback_face      per face: first looks, dwell, cued, mirrored, max_smile
    feedback_block     per block: faces, looked_eyes, looked_mouth, cued, mirror_faces, mirrored, calm

Face regions come from stimulus/face_geometry.py (the one home of that geometry);
times in fields are seconds of real time on the LSL clock.
"""
from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import mean, pstdev
from typing import Any

import numpy as np
import pylsl
from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal

from stimulus import face_geometry as regions
from stimulus import scenes
from stimulus.clock import local_clock
from stimulus.feedback_streams import (
    MISSING,
    OK,
    POOR,
    Feed,
    open_expression,
    open_gaze,
    open_gsr,
)
from stimulus.protocol import Feedback
from stimulus.window import StimulusWindow

Mark = Callable[..., None]  # mark(event, timestamp=None, **fields)
#: told (feed, state, reason) when a feed is found missing, pauses or resumes: the experimenter's notice
Notice = Callable[[str, str, str], None]
POLL_MS = 2
FEEDS = ("gaze", "expression", "gsr")


@dataclass
class CheckResult:
    """The start-of-session check: per feed, ok / missing / poor / unknown, and why."""

    status: dict[str, str] = field(default_factory=dict)
    detail: dict[str, str] = field(default_factory=dict)

    @property
    def all_ok(self) -> bool:
        return all(s == OK for s in self.status.values())

    def text(self) -> str:
        return "\n".join(f"{k}: {self.status[k]}" + (f" ({self.detail[k]})" if self.detail.get(k) else "")
                         for k in self.status)


def needed_feeds(config: Feedback) -> list[str]:
    """Which streams this protocol's feedback reads."""
    out = []
    if config.attention.enabled:
        out.append("gaze")
    if config.mirroring.enabled:
        out.append("expression")
    if config.calm.enabled:
        out.append("gsr")
    return out


def check_streams(config: Feedback, ready: float = 1.0) -> tuple[CheckResult, dict[str, Feed]]:
    """Find and open each stream the feedback needs, then see samples flow and how valid they are.

    Returns the result per feed and the feeds that passed (open, ready to pull).
    """
    result = CheckResult()
    wanted = needed_feeds(config)
    preds = {k: getattr(config.streams, k) for k in wanted}
    resolvers = {k: pylsl.ContinuousResolver(pred=p, forget_after=5.0) for k, p in preds.items()}
    infos: dict[str, pylsl.StreamInfo] = {}
    deadline = local_clock() + config.find_timeout
    while len(infos) < len(resolvers) and local_clock() < deadline:
        for k, resolver in resolvers.items():
            found = resolver.results() if k not in infos else ()
            if found:
                infos[k] = found[0]
        time.sleep(0.02)
    kw = {"stall_after": config.stall_after, "min_validity": config.min_validity}
    opener = {"gaze": open_gaze, "expression": open_expression, "gsr": open_gsr}
    feeds: dict[str, Feed] = {}
    for k in wanted:
        if k not in infos:
            result.status[k], result.detail[k] = MISSING, f"no stream matches {preds[k]}"
            continue
        try:
            feed = opener[k](infos[k], **kw)
        except Exception as exc:
            feed = f"{infos[k].name()}: cannot open: {exc}"
        if isinstance(feed, str):
            result.status[k], result.detail[k] = "unknown", feed
        else:
            feeds[k] = feed
    end = local_clock() + ready
    while local_clock() < end and not all(f.samples for f in feeds.values()):
        for f in feeds.values():
            f.pull()
        time.sleep(0.01)
    now = local_clock()
    for k, f in list(feeds.items()):
        validity = f.validity(now, ready + 0.5)
        if validity is None:
            result.status[k], result.detail[k] = MISSING, f"{f.name}: no samples in {ready:.1f} s"
        elif validity < config.min_validity:
            result.status[k] = POOR
            result.detail[k] = f"{f.name}: valid {100 * validity:.0f} % (needs {100 * config.min_validity:.0f} %)"
        else:
            result.status[k], result.detail[k] = OK, f.name
        if result.status[k] != OK:
            feeds.pop(k).close()
    return result, feeds


def region_box(name: str, rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A face region (stimulus/face_geometry.py, image fractions) on screen, for a face drawn in ``rect``."""
    box = {"eyes": regions.EYES, "mouth": regions.MOUTH}[name]
    x0, y0, x1, y1 = rect
    return (x0 + box[0] * (x1 - x0), y0 + box[1] * (y1 - y0), x0 + box[2] * (x1 - x0), y0 + box[3] * (y1 - y0))


@dataclass
class FaceState:
    """What feedback knows about the face on screen now."""

    block: str
    trial: int
    emotion: str
    rect: tuple[float, float, float, float]
    onset: float
    first_look: dict[str, float | None]
    dwell: dict[str, float]
    cues: set[str] = field(default_factory=set)  # regions cued now
    cued: bool = False
    released: bool = False
    mirroring_face: bool = False
    above_since: float | None = None
    mirrored: bool = False
    smile: float | None = None
    max_smile: float | None = None
    offset: float | None = None


@dataclass
class BlockCounts:
    faces: int = 0
    looked_eyes: int = 0
    looked_mouth: int = 0
    cued: int = 0
    mirror_faces: int = 0
    mirrored: int = 0
    calm: int = 0

    def text(self) -> str:
        lines = []
        if self.faces:
            lines.append(f"You looked at the baby's eyes in {self.looked_eyes} of {self.faces} pictures"
                         + (f" ({self.cued} with a hint)." if self.cued else "."))
        if self.mirror_faces:
            lines.append(f"You smiled back at {self.mirrored} of {self.mirror_faces} happy babies.")
        if self.calm:
            lines.append(f"You took {self.calm} calm breath{'s' if self.calm != 1 else ''} with a crying baby.")
        return "\n".join(lines)


class FeedbackController(QObject):
    """Live feedback for one training run; the runner tells it about faces and blocks."""

    released = pyqtSignal()  # gaze-contingent: the face may go (dwell reached, or gaze paused)

    def __init__(self, config: Feedback, window: StimulusWindow, mark: Mark, speed: float = 1.0,
                 notice: Notice | None = None) -> None:
        super().__init__()
        self.config = config
        self.window = window
        self.mark = mark
        self.speed = speed
        self.notice = notice
        self.feeds: dict[str, Feed] = {}
        self.health: dict[str, str] = {}
        self.face: FaceState | None = None
        self.counts = BlockCounts()
        self.smile_baseline: tuple[float, float] | None = None  # mean, sd
        self.gsr_baseline: float | None = None
        # sample stamp -> swap of the frame that showed it (cue, bar), and arrival here -> swap
        self.latency: dict[str, list[float]] = {"cue": [], "bar": [], "cue_arrival": [], "bar_arrival": []}
        self._collect: dict[str, list[float]] | None = None
        self._gsr_recent: deque[tuple[float, float]] = deque()
        self._calm_watch: tuple[str, int, float, float] | None = None  # block, trial, level, until
        self._calm: tuple[float, float] | None = None  # started, ends (LSL clock)
        self._after_swap: list[tuple[int, str, dict[str, Any]]] = []
        self._pending_latency: list[tuple[int, str, float, float]] = []  # version, kind, stamp, arrival
        self._shown: scenes.Overlay | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.poll)
        self._connection = window.overlay_shown.connect(self._on_overlay_shown)

    def d(self, seconds: float) -> float:
        return seconds / self.speed

    # -- the start-of-session check --------------------------------------------
    def check(self, ready: float = 1.0) -> CheckResult:
        """The start-of-session check (``check_streams``); marks the result and tells what is off.

        A stream that is missing or poor has its feedback off for this run: the training goes on.
        """
        result, self.feeds = check_streams(self.config, ready)
        for k in needed_feeds(self.config):
            self.health[k] = OK if k in self.feeds else "off"
            if k not in self.feeds:
                self._tell(k, result.status[k], result.detail[k])
        self.mark("feedback_check", **{k: result.status.get(k, "off") for k in FEEDS},
                  details="; ".join(f"{k}: {v}" for k, v in result.detail.items()))
        return result

    def active(self, kind: str) -> bool:
        return self.health.get(kind) == OK

    def start(self) -> None:
        self._timer.start(POLL_MS)

    def stop(self) -> None:
        """Stop reading; a visible event whose frame never came (window hidden, run ended) is still marked."""
        self._timer.stop()
        QObject.disconnect(self._connection)
        for _, event, fields in self._after_swap:
            fields.pop("latency_from", None)
            self.mark(event, unconfirmed=True, **fields)
        self._after_swap = []
        if self._calm is not None:
            self._calm = None
            self.mark("feedback_calm_off", reason="run_end")
        self.window.set_overlay(None)
        for feed in self.feeds.values():
            feed.close()
        self.feeds.clear()

    # -- what the runner tells it --------------------------------------------------
    def baseline_begin(self) -> None:
        self._collect = {"smile": [], "gsr": []}

    def baseline_end(self, timestamp: float) -> None:
        got, self._collect = self._collect or {"smile": [], "gsr": []}, None
        smiles, gsr = got["smile"], got["gsr"]
        if smiles:
            self.smile_baseline = (mean(smiles), pstdev(smiles))
        if gsr:
            self.gsr_baseline = mean(gsr)
        gaze = self.feeds.get("gaze")
        validity = gaze.validity(local_clock(), self.d(self.config.baseline)) if gaze else None
        self.mark("feedback_baseline", timestamp=timestamp,
                  smile_mean=_round(self.smile_baseline[0] if self.smile_baseline else None),
                  smile_sd=_round(self.smile_baseline[1] if self.smile_baseline else None),
                  gsr_mean=_round(self.gsr_baseline), gaze_validity=_round(validity),
                  smile_samples=len(smiles), gsr_samples=len(gsr))
        if "expression" in self.feeds and self.smile_baseline is None:
            self._tell("expression", "off", "no valid smile samples during the baseline")
            self.health["expression"] = "off"

    def block_begin(self) -> None:
        self.counts = BlockCounts()

    def face_on(self, block: str, trial: int, emotion: str, rect: list[float], onset: float) -> None:
        names = self.config.attention.regions
        self.face = FaceState(block, trial, emotion, tuple(rect), onset,
                              first_look={r: None for r in names}, dwell={r: 0.0 for r in names})
        self.face.mirroring_face = (self.config.mirroring.enabled and emotion in self.config.mirroring.emotions
                                    and self.smile_baseline is not None)
        self.counts.faces += 1
        if self.config.calm.enabled and emotion in self.config.calm.emotions and self.active("gsr"):
            level = self._gsr_level(onset)
            if level is not None:
                self._calm_watch = (block, trial, level, onset + self.d(8.0))
        self._refresh()

    def face_off(self, offset: float) -> None:
        face = self.face
        if face is None:
            return
        face.offset = offset
        for region in sorted(face.cues):  # drawn only over the face: gone in the frame that ended it
            self.mark("feedback_cue_off", timestamp=offset, block=face.block, trial=face.trial, region=region,
                      reason="face_offset")
        face.cues.clear()
        self.counts.looked_eyes += face.first_look.get("eyes") is not None
        self.counts.looked_mouth += face.first_look.get("mouth") is not None
        self.counts.cued += face.cued
        self.counts.mirror_faces += face.mirroring_face and self.active("expression")
        self.counts.mirrored += face.mirrored
        self.mark("feedback_face", timestamp=offset, block=face.block, trial=face.trial, emotion=face.emotion,
                  **{f"first_{r}": _round(v) for r, v in face.first_look.items()},
                  **{f"dwell_{r}": _round(v) for r, v in face.dwell.items()},
                  cued=face.cued, mirroring_face=face.mirroring_face, mirrored=face.mirrored,
                  max_smile=_round(face.max_smile))
        self.face = None
        self._refresh()

    def block_end(self, block: str) -> BlockCounts:
        c = self.counts
        self.mark("feedback_block", block=block, faces=c.faces, looked_eyes=c.looked_eyes,
                  looked_mouth=c.looked_mouth, cued=c.cued, mirror_faces=c.mirror_faces, mirrored=c.mirrored,
                  calm=c.calm)
        return c

    def dwell_done(self) -> bool:
        """Gaze-contingent: may the face go now? (each region had its dwell, or gaze is not usable)."""
        face = self.face
        return face is None or face.released or not self.active("gaze")

    # -- the loop ----------------------------------------------------------------
    def poll(self) -> None:
        now = local_clock()
        for kind, feed in self.feeds.items():
            chunk = feed.pull()
            state, reason = feed.health(now)
            if state != self.health.get(kind):
                self._health_changed(kind, feed, state, reason, now)
            if chunk is None or state != OK:
                continue
            if kind == "gaze":
                self._gaze(chunk.stamps, chunk.values, chunk.valid)
            elif kind == "expression":
                self._expression(chunk.stamps, chunk.values, chunk.valid)
            else:
                self._gsr(chunk.stamps, chunk.values, chunk.valid)
        self._calm_tick(now)
        self._refresh()

    def _health_changed(self, kind: str, feed: Feed, state: str, reason: str, now: float) -> None:
        was = self.health.get(kind)
        self.health[kind] = state
        if state == OK:
            self.mark("feedback_resumed", feed=kind, stream=feed.name)
            self._tell(kind, "resumed", "")
            return
        if was == OK:
            self.mark("feedback_paused", feed=kind, stream=feed.name, reason=reason)
            self._tell(kind, "paused", reason)
        face = self.face
        if face is not None and kind == "gaze":
            for region in sorted(face.cues):
                self._after("feedback_cue_off", block=face.block, trial=face.trial, region=region, reason="paused")
            face.cues.clear()
            if not face.released:
                face.released = True
                self.released.emit()
        if kind == "gsr" and self._calm is not None:
            self._calm_end("paused")

    def _gaze(self, stamps: np.ndarray, xy: np.ndarray, valid: np.ndarray) -> None:
        face = self.face
        if face is None or not self.config.attention.enabled:
            return
        on = valid & (stamps >= face.onset)
        if not on.any():
            return
        rate = self.feeds["gaze"].info.nominal_srate()
        step = 1.0 / rate if rate > 0 else float(np.median(np.diff(stamps))) if len(stamps) > 1 else 0.0
        inside = regions.classify(np.nan_to_num(xy[:, 0], nan=-1.0), np.nan_to_num(xy[:, 1], nan=-1.0), face.rect)
        cue_at = face.onset + self.d(self.config.attention.cue_after)
        for region in face.dwell:
            hits = inside[region] & on
            if not hits.any():
                continue
            face.dwell[region] += float(hits.sum()) * step
            if face.first_look[region] is None:
                first = float(stamps[np.argmax(hits)])
                face.first_look[region] = first - face.onset
                self.mark("feedback_look", timestamp=first, block=face.block, trial=face.trial, region=region,
                          latency=_round(first - face.onset), cued=region in face.cues)
            if region in face.cues:
                face.cues.discard(region)
                self._after("feedback_cue_off", block=face.block, trial=face.trial, region=region, reason="looked")
        if not face.cued:
            late = on & (stamps >= cue_at)
            missing = sorted(r for r, t in face.first_look.items() if t is None)
            if late.any() and missing:
                trigger = float(stamps[np.argmax(late)])
                face.cued = True
                face.cues = set(missing)
                self._after("feedback_cue_on", block=face.block, trial=face.trial, regions=missing,
                            style=self.config.attention.cue_style, sample_time=trigger, latency_from=trigger)
                self._pending_latency.append((self._next_version(), "cue", trigger, local_clock()))
        need = self.d(self.config.attention.min_dwell)
        if not face.released and all(v >= need for v in face.dwell.values()):
            face.released = True
            self.mark("feedback_dwell", block=face.block, trial=face.trial,
                      **{f"dwell_{r}": _round(v) for r, v in face.dwell.items()})
            self.released.emit()

    def _expression(self, stamps: np.ndarray, smile: np.ndarray, valid: np.ndarray) -> None:
        if self._collect is not None:
            self._collect["smile"].extend(float(v) for v in smile[valid])
        face = self.face
        if face is None or not face.mirroring_face or not valid.any():
            return
        base_mean, base_sd = self.smile_baseline or (0.0, 0.0)
        threshold = base_mean + self.config.mirroring.threshold
        for t, v in zip(stamps[valid], smile[valid]):
            if t < face.onset:
                continue
            face.smile = float(v)
            face.max_smile = max(face.max_smile or -math.inf, float(v))
            if v > threshold:
                face.above_since = face.above_since if face.above_since is not None else float(t)
                if not face.mirrored and t - face.above_since >= self.d(self.config.mirroring.min_duration):
                    face.mirrored = True
                    self._after("feedback_mirroring", block=face.block, trial=face.trial, smile=_round(float(v)),
                                baseline=_round(base_mean), threshold=_round(threshold))
            else:
                face.above_since = None
        if self.config.mirroring.bar and face.smile is not None:
            self._pending_latency.append((self._next_version(), "bar", float(stamps[valid][-1]), local_clock()))

    def _gsr(self, stamps: np.ndarray, values: np.ndarray, valid: np.ndarray) -> None:
        if self._collect is not None:
            self._collect["gsr"].extend(float(v) for v in values[valid])
        for t, v in zip(stamps[valid], values[valid]):
            self._gsr_recent.append((float(t), float(v)))
        while self._gsr_recent and self._gsr_recent[-1][0] - self._gsr_recent[0][0] > 2.0:
            self._gsr_recent.popleft()
        watch = self._calm_watch
        if watch is None or self._calm is not None or not self._gsr_recent:
            return
        block, trial, level, until = watch
        t, v = self._gsr_recent[-1]
        if t > until:
            self._calm_watch = None
        elif v - level > self.config.calm.rise:
            self._calm_watch = None
            now = local_clock()
            self._calm = (now, now + self.d(self.config.calm.duration))
            self.counts.calm += 1
            self._after("feedback_calm_on", block=block, trial=trial, rise=_round(v - level), gsr=_round(v),
                        level=_round(level))

    def _gsr_level(self, before: float) -> float | None:
        values = [v for t, v in self._gsr_recent if before - self.d(1.0) <= t <= before]
        values = values or [v for _, v in self._gsr_recent]
        return mean(values) if values else None

    def _calm_tick(self, now: float) -> None:
        if self._calm is not None and now >= self._calm[1]:
            self._calm_end("done")

    def _calm_end(self, reason: str) -> None:
        self._calm = None
        self._after("feedback_calm_off", reason=reason)

    # -- drawing ------------------------------------------------------------------
    def overlay(self) -> scenes.Overlay | None:
        face, a, m = self.face, self.config.attention, self.config.mirroring
        cues = tuple(region_box(r, face.rect) for r in sorted(face.cues)) if face is not None else ()
        smile = None
        base, threshold = 0.0, 1.0
        if face is not None and face.mirroring_face and m.bar and self.active("expression"):
            base = self.smile_baseline[0] if self.smile_baseline else 0.0
            threshold = base + m.threshold
            smile = face.smile if face.smile is not None else base
        phase = None
        if self._calm is not None:
            phase = ((local_clock() - self._calm[0]) / self.d(self.config.calm.breath_period)) % 1.0
            phase = round(phase, 2)
        out = scenes.Overlay(cues=cues, cue_style=a.cue_style, cue_colour=a.cue_colour, smile=smile,
                             baseline=base, threshold=threshold, mirrored=bool(face and face.mirrored),
                             calm_phase=phase, calm_text=self.config.calm.text)
        return None if out.empty else out

    def _refresh(self) -> None:
        overlay = self.overlay()
        if overlay != self._shown or self._after_swap_due():
            self._shown = overlay
            self.window.set_overlay(overlay)

    def _after_swap_due(self) -> bool:
        return any(v > self.window.overlay_version for v, _, _ in self._after_swap)

    def _next_version(self) -> int:
        """The overlay version the next refresh will draw (what an event now becomes visible with)."""
        return self.window.overlay_version + 1

    def _after(self, event: str, **fields: Any) -> None:
        """A marker for something visible: sent with the swap time of the frame that shows it."""
        self._after_swap.append((self._next_version(), event, fields))

    def _on_overlay_shown(self, version: int, swapped: float) -> None:
        due = [e for e in self._after_swap if e[0] <= version]
        self._after_swap = [e for e in self._after_swap if e[0] > version]
        for _, event, fields in due:
            start = fields.pop("latency_from", None)
            if start is not None:
                fields["latency"] = _round(swapped - start)
            self.mark(event, timestamp=swapped, **fields)
        kept = []
        for entry in self._pending_latency:
            v, kind, stamp, arrival = entry
            if v > version:
                kept.append(entry)
            elif kind == "cue" or v == version:  # a bar value replaced before it was drawn was never seen
                self.latency[kind].append(swapped - stamp)
                self.latency[f"{kind}_arrival"].append(swapped - arrival)
        self._pending_latency = kept

    def _tell(self, kind: str, state: str, reason: str) -> None:
        if self.notice is not None:
            try:
                self.notice(kind, state, reason)
            except Exception:
                pass


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
