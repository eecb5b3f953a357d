"""Clock-offset estimation between a marker sender and the server (NTP style).

Each exchange gives four stamps: t0 (sender sends, sender clock), t1 (server
receives, server clock), t2 (server replies), t3 (sender receives). Then

    offset = ((t1 - t0) + (t2 - t3)) / 2     value to ADD to sender stamps
    rtt    = (t3 - t0) - (t2 - t1)           |error| <= rtt / 2

Delays from scheduling and queueing only ever lengthen the round trip, so
the exchanges with the shortest round trip are the most trustworthy: the
estimator keeps the minimum-rtt exchange of every block of a few seconds
and fits a straight line through those minima, which tracks both the
offset and the drift between the two crystals. All stamps are
pylsl.local_clock() values, so the result maps onto the LSL clock exactly
as liblsl's own time_correction does.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Exchange:
    """One completed probe; ``at`` is its midpoint on the sender's clock."""

    t0: float
    t1: float
    t2: float
    t3: float

    @property
    def rtt(self) -> float:
        return (self.t3 - self.t0) - (self.t2 - self.t1)

    @property
    def offset(self) -> float:
        return ((self.t1 - self.t0) + (self.t2 - self.t3)) / 2.0

    @property
    def at(self) -> float:
        return (self.t0 + self.t3) / 2.0


@dataclass(frozen=True)
class ClockEstimate:
    """Best offset at sender time ``at``, with the round-trip bound that backs it."""

    at: float  # sender clock
    offset: float  # add to sender stamps to get the server clock
    uncertainty: float  # half the round trip of the exchanges the estimate rests on
    rtt: float  # shortest round trip among them
    drift: float  # d(offset)/d(sender time), dimensionless (1e-6 = 1 ppm)
    exchanges: int  # exchanges in the window

    def map(self, sender_time: float) -> float:
        """A sender stamp on the server's clock."""
        return sender_time + self.offset + self.drift * (sender_time - self.at)

    def as_record(self) -> dict[str, float | int]:
        return {"offset": self.offset, "uncertainty": self.uncertainty, "rtt": self.rtt,
                "drift_ppm": self.drift * 1e6, "exchanges": self.exchanges}


class ClockEstimator:
    """Continuous offset and drift tracking from a stream of exchanges.

    ``window`` bounds memory and lets the estimate follow slow changes;
    ``block`` is the span from which one minimum-rtt exchange is kept;
    ``min_exchanges`` are needed before any estimate is given.
    """

    def __init__(self, window: float = 60.0, block: float = 2.0, min_exchanges: int = 4,
                 max_exchanges: int = 1024) -> None:
        self.window = window
        self.block = block
        self.min_exchanges = min_exchanges
        self._exchanges: deque[Exchange] = deque(maxlen=max_exchanges)
        self._estimate: ClockEstimate | None = None
        self.rejected = 0

    def add(self, t0: float, t1: float, t2: float, t3: float) -> bool:
        """Record one exchange; impossible ones (negative round trip) are refused."""
        ex = Exchange(t0, t1, t2, t3)
        if not all(math.isfinite(v) for v in (t0, t1, t2, t3)) or ex.rtt < 0 or t2 < t1 or t3 < t0:
            self.rejected += 1
            return False
        self._exchanges.append(ex)
        newest = ex.at
        while self._exchanges and self._exchanges[0].at < newest - self.window:
            self._exchanges.popleft()
        self._estimate = self._compute()
        return True

    @property
    def ready(self) -> bool:
        return self._estimate is not None

    @property
    def estimate(self) -> ClockEstimate | None:
        return self._estimate

    def map(self, sender_time: float) -> float | None:
        return self._estimate.map(sender_time) if self._estimate else None

    def _compute(self) -> ClockEstimate | None:
        exchanges = list(self._exchanges)
        if len(exchanges) < self.min_exchanges:
            return None
        newest = exchanges[-1].at
        # the minimum-rtt exchange of each block, blocks counted back from the newest
        best: dict[int, Exchange] = {}
        for ex in exchanges:
            key = int((newest - ex.at) // self.block)
            if key not in best or ex.rtt < best[key].rtt:
                best[key] = ex
        floor_rtt = min(ex.rtt for ex in best.values())
        # a block whose best exchange was still slow (all probes delayed) says little
        points = [ex for ex in best.values() if ex.rtt <= 3.0 * floor_rtt + 50e-6]
        points.sort(key=lambda ex: ex.at)
        rtts = sorted(ex.rtt for ex in points)
        median_rtt = rtts[len(rtts) // 2]
        if len(points) >= 3 and points[-1].at - points[0].at >= 2.0 * self.block:
            mean_t = sum(ex.at for ex in points) / len(points)
            mean_o = sum(ex.offset for ex in points) / len(points)
            sxx = sum((ex.at - mean_t) ** 2 for ex in points)
            sxy = sum((ex.at - mean_t) * (ex.offset - mean_o) for ex in points)
            drift = sxy / sxx
            offset = mean_o + drift * (newest - mean_t)
            return ClockEstimate(newest, offset, median_rtt / 2.0, rtts[0], drift, len(exchanges))
        # too short to see drift: the single most trustworthy exchange
        top = min(points, key=lambda ex: ex.rtt)
        return ClockEstimate(newest, top.offset, top.rtt / 2.0, top.rtt, 0.0, len(exchanges))
