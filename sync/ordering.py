"""Per-session delivery order: drop duplicates, hold back early arrivals, name gaps.

Markers of one client session carry consecutive sequence numbers. Resends
after a reconnect can arrive twice or after later ones; this class turns
whatever arrives into the exact, ordered sequence, and when a seq can no
longer come (the client gave it up, or it never arrived within
``gap_timeout``) it says so with the numbers, instead of losing it quietly.
Pure logic without sockets or clocks of its own, so it is tested alone.
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

from .protocol import MarkerMessage


def format_spans(spans: list[tuple[int, int]]) -> str:
    """Inclusive seq ranges for people: [(1, 3), (7, 7)] -> '1-3, 7'."""
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@dataclass
class Outcome:
    """What one offer or expiry produced."""

    deliver: list[MarkerMessage] = field(default_factory=list)
    lost: list[tuple[int, int]] = field(default_factory=list)  # inclusive seq ranges
    duplicates: int = 0
    late: int = 0


class Sequencer:
    """In-order, exactly-once delivery for one session.

    Work per marker is O(log held): held seqs sit in a heap and arrivals in
    a queue, so sparse numbering (2, 4, 6, ...) cannot make expiry quadratic,
    and at most ``max_held`` markers wait per session.
    """

    def __init__(self, gap_timeout: float = 3.0, max_held: int = 10_000) -> None:
        self.gap_timeout = gap_timeout
        self.max_held = max_held
        self.next: int | None = None  # the seq to deliver next
        self._held: dict[int, MarkerMessage] = {}
        self._heap: list[int] = []  # held seqs (entries already delivered are skipped lazily)
        self._arrivals: deque[tuple[float, int]] = deque()  # (arrival, seq), oldest first
        self._lost: list[tuple[int, int]] = []  # ranges reported lost, for late arrivals

    @property
    def through(self) -> int:
        """Every seq up to here is delivered or reported lost (the cumulative ack)."""
        return 0 if self.next is None else self.next - 1

    @property
    def held(self) -> int:
        return len(self._held)

    def offer(self, marker: MarkerMessage, now: float) -> Outcome:
        out = Outcome()
        if self.next is None:
            # first sight of this session (maybe on a restarted server):
            # everything below the client's floor was acked earlier
            self.next = marker.floor
        if marker.floor > self.next:
            # the client gave up these seqs; deliver any we hold, the rest are lost
            self._skip_to(marker.floor, out)
        seq = marker.seq
        if seq < self.next:
            if self._unlose(seq):
                out.deliver.append(marker)
                out.late += 1
            else:
                out.duplicates += 1
        elif seq in self._held:
            out.duplicates += 1
        else:
            self._held[seq] = marker
            heapq.heappush(self._heap, seq)
            self._arrivals.append((now, seq))
            self._drain(out)
            if len(self._held) > self.max_held:  # a sender far ahead must not eat memory
                self._skip_to(self._first_held(), out)
        return out

    def expire(self, now: float) -> Outcome:
        """Give up waiting for a missing seq once later ones have waited ``gap_timeout``.

        Everything up to the newest seq among the markers that waited that
        long is delivered, and the gaps below it are reported lost.
        """
        out = Outcome()
        through = None
        while self._arrivals and now - self._arrivals[0][0] >= self.gap_timeout:
            _, seq = self._arrivals.popleft()
            if seq in self._held:
                through = seq if through is None else max(through, seq)
        if through is not None:
            self._skip_to(through, out)
        return out

    def _first_held(self) -> int:
        while self._heap[0] not in self._held:
            heapq.heappop(self._heap)
        return self._heap[0]

    def _skip_to(self, seq: int, out: Outcome) -> None:
        """Deliver everything held below ``seq``, report the gaps, and continue from ``seq``."""
        assert self.next is not None
        cursor = self.next
        while self._held and self._first_held() < seq:
            held_seq = heapq.heappop(self._heap)
            if held_seq > cursor:
                self._report(cursor, held_seq - 1, out)
            out.deliver.append(self._held.pop(held_seq))
            cursor = held_seq + 1
        if seq > cursor:
            self._report(cursor, seq - 1, out)
        self.next = max(seq, cursor)
        self._drain(out)

    def _report(self, first: int, last: int, out: Outcome) -> None:
        out.lost.append((first, last))
        self._lost.append((first, last))
        del self._lost[:-1000]

    def _unlose(self, seq: int) -> bool:
        """A seq reported lost arrived after all: take it out of the lost ranges."""
        for i, (first, last) in enumerate(self._lost):
            if first <= seq <= last:
                parts = [(a, b) for a, b in ((first, seq - 1), (seq + 1, last)) if a <= b]
                self._lost[i:i + 1] = parts
                return True
        return False

    def _drain(self, out: Outcome) -> None:
        assert self.next is not None
        while self.next in self._held:
            out.deliver.append(self._held.pop(self.next))
            self.next += 1
        if not self._held:
            self._heap.clear()
            self._arrivals.clear()
        elif len(self._heap) > 2 * len(self._held) + 64:  # drop delivered entries in bulk
            self._heap = list(self._held)
            heapq.heapify(self._heap)
        if len(self._arrivals) > 2 * len(self._held) + 64:
            self._arrivals = deque(a for a in self._arrivals if a[1] in self._held)
