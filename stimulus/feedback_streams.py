"""The LSL streams live feedback reads: found by predicate, pulled on the stimulus side itself.

The stimulus computer may be another machine than the recorder, so it opens
its own inlets (design rule: stimulus/ never imports acquisition/). Each
``Feed`` is pulled without blocking from the Qt thread (``pull()``), which
keeps the decision and the repaint in one place, and tracks its own health:
no sample for ``stall_after`` seconds, or too few valid samples in that
window, and the feed reports itself paused until samples flow again.

Sample stamps are mapped onto this machine's LSL clock (``proc_clocksync``),
so they compare with frame swap times directly.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import pylsl
from pylsl.util import LostError
from pylsl.util import TimeoutError as LSLTimeoutError

from devices.gaze_layouts import GazeLayout, channel_labels, recognise
from stimulus.clock import local_clock

#: Upper bound on samples taken per pull, so a burst after a stall cannot hold up a frame.
MAX_CHUNK = 4096
OK, MISSING, STALLED, POOR = "ok", "missing", "stalled", "poor"


@dataclass(frozen=True)
class Chunk:
    """Samples pulled in one go: LSL-clock stamps, the value feedback uses, and validity."""

    stamps: np.ndarray
    values: np.ndarray  # gaze: (n, 2) x, y; expression: smile (n,); gsr: conductance (n,)
    valid: np.ndarray  # bool (n,)

    def __len__(self) -> int:
        return len(self.stamps)


def find_stream(predicate: str, timeout: float) -> pylsl.StreamInfo | None:
    """The first stream matching ``predicate`` within ``timeout`` seconds, or None."""
    found = pylsl.resolve_bypred(predicate, 1, timeout)
    return found[0] if found else None


class Feed:
    """One inlet plus its health; subclasses turn raw samples into a ``Chunk``."""

    kind = "stream"

    def __init__(self, inlet: pylsl.StreamInlet, info: pylsl.StreamInfo, stall_after: float = 0.5,
                 min_validity: float = 0.5) -> None:
        self.inlet = inlet
        self.info = info
        self.name = info.name()
        self.stall_after = stall_after
        self.min_validity = min_validity
        self.last_arrival = local_clock()
        self._recent: deque[tuple[float, int, int]] = deque()  # (arrival, valid, total) per chunk
        self.state = OK
        self.reason = ""
        self.samples = 0

    def pull(self) -> Chunk | None:
        """Whatever arrived since the last pull (None if nothing); never blocks."""
        try:
            data, stamps = self.inlet.pull_chunk(timeout=0.0, max_samples=MAX_CHUNK)
        except (LSLTimeoutError, LostError):  # not connected yet, or the source is away: no data now
            return None
        if not stamps:
            return None
        now = local_clock()
        chunk = self.convert(np.asarray(data, dtype=float), np.asarray(stamps, dtype=float))
        self.last_arrival = now
        self.samples += len(chunk)
        self._recent.append((now, int(chunk.valid.sum()), len(chunk)))
        while self._recent and now - self._recent[0][0] > max(2.0, self.stall_after):
            self._recent.popleft()
        return chunk

    def convert(self, data: np.ndarray, stamps: np.ndarray) -> Chunk:
        raise NotImplementedError

    def health(self, now: float) -> tuple[str, str]:
        """(state, reason) as of ``now``: ok, or stalled / poor with what was seen."""
        silent = now - self.last_arrival
        if silent > self.stall_after:
            return STALLED, f"no samples for {silent:.1f} s"
        validity = self.validity(now, self.stall_after)
        if validity is not None:
            if validity < self.min_validity:
                return POOR, f"valid {100 * validity:.0f} % of samples (needs {100 * self.min_validity:.0f} %)"
        return OK, ""

    def validity(self, now: float, span: float) -> float | None:
        """Valid fraction of the samples that arrived in the last ``span`` seconds (None: none)."""
        valid = total = 0
        for t, v, n in self._recent:
            if now - t <= span:
                valid, total = valid + v, total + n
        return valid / total if total else None

    def close(self) -> None:
        try:
            self.inlet.close_stream()
        except Exception:
            pass


class GazeFeed(Feed):
    kind = "gaze"

    def __init__(self, inlet: pylsl.StreamInlet, info: pylsl.StreamInfo, layout: GazeLayout, **kw: float) -> None:
        super().__init__(inlet, info, **kw)
        self.layout = layout

    def convert(self, data: np.ndarray, stamps: np.ndarray) -> Chunk:
        gaze = self.layout.canonical(data)
        x, y = gaze.point()
        return Chunk(stamps, np.column_stack([x, y]), gaze.valid() & np.isfinite(x) & np.isfinite(y))


class LabelledFeed(Feed):
    """A stream whose value is one channel found by its label (smile, skin conductance)."""

    def __init__(self, inlet: pylsl.StreamInlet, info: pylsl.StreamInfo, channel: int,
                 present: int | None = None, **kw: float) -> None:
        super().__init__(inlet, info, **kw)
        self.channel = channel
        self.present = present

    def convert(self, data: np.ndarray, stamps: np.ndarray) -> Chunk:
        values = data[:, self.channel]
        ok = np.isfinite(values)
        if self.present is not None:
            ok &= data[:, self.present] > 0.5
        return Chunk(stamps, values, ok)


class ExpressionFeed(LabelledFeed):
    kind = "expression"


class GSRFeed(LabelledFeed):
    kind = "gsr"


def open_inlet(found: pylsl.StreamInfo, timeout: float = 5.0) -> tuple[pylsl.StreamInlet, pylsl.StreamInfo]:
    """An inlet on a resolved stream and its full description (resolving gives no channel labels)."""
    inlet = pylsl.StreamInlet(found, max_buflen=10, recover=True, processing_flags=pylsl.proc_clocksync)
    info = inlet.info(timeout)
    inlet.open_stream(timeout)
    return inlet, info


def open_gaze(found: pylsl.StreamInfo, **kw: float) -> GazeFeed | str:
    """A gaze feed, or why this stream cannot be one."""
    inlet, info = open_inlet(found)
    layout = recognise(info)
    if layout is None:
        inlet.close_stream()
        return f"{info.name()}: not a gaze layout Attune knows (channels {channel_labels(info)})"
    return GazeFeed(inlet, info, layout, **kw)


def open_expression(found: pylsl.StreamInfo, **kw: float) -> ExpressionFeed | str:
    """The smile channel by its label (the simulated webcam and the FacialExpression layout both have one)."""
    inlet, info = open_inlet(found)
    labels = [label.lower() for label in channel_labels(info)]
    if "smile" not in labels:
        inlet.close_stream()
        return f"{info.name()}: no channel labelled 'smile' (channels {labels})"
    present = labels.index("face_present") if "face_present" in labels else None
    return ExpressionFeed(inlet, info, labels.index("smile"), present, **kw)


def open_gsr(found: pylsl.StreamInfo, **kw: float) -> GSRFeed | str:
    """Skin conductance: the channel labelled as such, else the only channel."""
    inlet, info = open_inlet(found)
    labels = [label.lower() for label in channel_labels(info)]
    for i, label in enumerate(labels):
        if label in ("skin_conductance", "gsr", "eda", "conductance"):
            return GSRFeed(inlet, info, i, **kw)
    if info.channel_count() == 1:
        return GSRFeed(inlet, info, 0, **kw)
    inlet.close_stream()
    return f"{info.name()}: which of its {info.channel_count()} channels is skin conductance? (labels {labels})"
