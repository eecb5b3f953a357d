"""Thread-safe stores behind the live view: sample rings, the marker list, arrival rates.

Filled by the live hub's puller threads (acquisition/live.py) or by the
recorder's readers, read by the control panel on its own timer: every
method takes a short lock and copies, so neither side waits on the other.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sync.protocol import parse_sample


class RingBuffer:
    """The last ``capacity`` samples of a numeric stream, with their timestamps.

    Every sample is written twice (at ``i`` and ``i + capacity``) so the
    newest ``k`` samples are always one contiguous slice: reads are a single
    copy, whatever the write position.
    """

    def __init__(self, channels: int, capacity: int) -> None:
        self.channels = channels
        self.capacity = max(int(capacity), 2)
        self._stamps = np.zeros(2 * self.capacity)
        self._values = np.full((2 * self.capacity, channels), np.nan)
        self._pos = 0  # next write index in [0, capacity)
        self._count = 0  # valid samples (<= capacity)
        self.total = 0  # samples ever appended
        self._lock = threading.Lock()

    def append(self, stamps: np.ndarray, values: np.ndarray) -> None:
        stamps = np.asarray(stamps, dtype=np.float64)
        n = len(stamps)
        if n == 0:
            return
        values = np.asarray(values, dtype=np.float64).reshape(n, self.channels)
        if n > self.capacity:
            stamps, values = stamps[-self.capacity:], values[-self.capacity:]
        k = len(stamps)
        with self._lock:
            cap = self.capacity
            end = self._pos + k
            if end <= cap:
                spans = [(self._pos, 0, k)]
            else:
                first = cap - self._pos
                spans = [(self._pos, 0, first), (0, first, k)]
            for dst, a, b in spans:
                m = b - a
                self._stamps[dst:dst + m] = stamps[a:b]
                self._stamps[dst + cap:dst + cap + m] = stamps[a:b]
                self._values[dst:dst + m] = values[a:b]
                self._values[dst + cap:dst + cap + m] = values[a:b]
            self._pos = end % cap
            self._count = min(cap, self._count + k)
            self.total += n

    @property
    def last_stamp(self) -> float | None:
        with self._lock:
            if self._count == 0:
                return None
            return float(self._stamps[self._pos + self.capacity - 1])

    def latest(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the newest ``n`` samples (all kept samples when None), oldest first."""
        with self._lock:
            k = self._count if n is None else min(n, self._count)
            end = self._pos + self.capacity
            return self._stamps[end - k:end].copy(), self._values[end - k:end].copy()

    def since(self, stamp: float) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the samples stamped at or after ``stamp`` (sender clock)."""
        with self._lock:
            end = self._pos + self.capacity
            start = end - self._count
            i = start + int(np.searchsorted(self._stamps[start:end], stamp))
            return self._stamps[i:end].copy(), self._values[i:end].copy()


@dataclass(frozen=True)
class LiveMarker:
    """One marker for display: label on the plots, the rest in the log."""

    stamp: float  # local LSL clock
    label: str
    details: str
    stream: str
    fields: dict[str, Any] = field(default_factory=dict, compare=False)


def parse_marker(text: str) -> tuple[str, dict[str, Any]]:
    """Attune's markers (sync.protocol.parse_sample) show their event; anything else is a plain label."""
    recorded = parse_sample(text)
    if recorded is None:
        return text.strip(), {}
    fields = recorded.as_dict()
    del fields["event"]
    return recorded.event, fields


def marker_details(fields: dict[str, Any]) -> str:
    """The fields worth reading in a log (the bus's sequence number is not)."""
    return ", ".join(f"{k}={v}" for k, v in fields.items() if k != "seq")


class MarkerBuffer:
    """All markers seen, in arrival order, numbered so readers can ask for "what is new"."""

    def __init__(self, keep: int = 50_000) -> None:
        self._items: deque[LiveMarker] = deque(maxlen=keep)
        self._first = 0  # number of the oldest kept marker
        self._lock = threading.Lock()

    def add(self, markers: list[LiveMarker]) -> None:
        with self._lock:
            for m in markers:
                if len(self._items) == self._items.maxlen:
                    self._first += 1
                self._items.append(m)

    @property
    def count(self) -> int:
        with self._lock:
            return self._first + len(self._items)

    def after(self, number: int) -> list[LiveMarker]:
        """Markers numbered ``number`` and later (0-based arrival order)."""
        with self._lock:
            skip = max(0, number - self._first)
            return list(self._items)[skip:]

    def between(self, start: float, end: float, slack: float = 30.0) -> list[LiveMarker]:
        """Markers stamped in [start, end], in stamp order.

        Scans back from the newest and stops ``slack`` seconds before
        ``start`` (streams interleave, so arrival order is only nearly
        stamp order): a redraw costs the markers in view, not the session.
        """
        found = []
        with self._lock:
            for m in reversed(self._items):
                if m.stamp < start - slack:
                    break
                if start <= m.stamp <= end:
                    found.append(m)
        found.sort(key=lambda m: m.stamp)
        return found


class RateMeter:
    """Samples per second over the last few seconds of arrivals (local clock)."""

    def __init__(self, span: float = 2.0) -> None:
        self.span = span
        self._arrivals: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def add(self, now: float, n: int) -> None:
        with self._lock:
            self._arrivals.append((now, n))
            while self._arrivals and self._arrivals[0][0] < now - self.span:
                self._arrivals.popleft()

    def rate(self, now: float) -> float:
        """Samples per second between the first and last arrival in the span; 0 when silent."""
        with self._lock:
            while self._arrivals and self._arrivals[0][0] < now - self.span:
                self._arrivals.popleft()
            if len(self._arrivals) < 2:
                return 0.0
            first_t, first_n = self._arrivals[0]
            last_t = self._arrivals[-1][0]
            total = sum(n for _, n in self._arrivals) - first_n
        return total / max(last_t - first_t, 1e-3)
