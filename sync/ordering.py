"""Per-session delivery order: drop duplicates, hold back early arrivals, name gaps.

Markers of one client session carry consecutive sequence numbers. Resends
after a reconnect can arrive twice or after later ones; this class turns
whatever arrives into the exact, ordered sequence, and when a seq can no
longer come (the client gave it up, or it never arrived within
``gap_timeout``) it says so with the numbers, instead of losing it quietly.
Pure logic without sockets or clocks of its own, so it is tested alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .protocol import Marker


def format_spans(spans: list[tuple[int, int]]) -> str:
    """Inclusive seq ranges for people: [(1, 3), (7, 7)] -> '1-3, 7'."""
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


@dataclass
class Outcome:
    """What one offer or expiry produced."""

    deliver: list[Marker] = field(default_factory=list)
    lost: list[tuple[int, int]] = field(default_factory=list)  # inclusive seq ranges
    duplicates: int = 0
    late: int = 0


class Sequencer:
    """In-order, exactly-once delivery for one session."""

    def __init__(self, gap_timeout: float = 3.0, max_held: int = 100_000) -> None:
        self.gap_timeout = gap_timeout
        self.max_held = max_held
        self.next: int | None = None  # the seq to deliver next
        self._held: dict[int, tuple[Marker, float]] = {}
        self._lost: list[tuple[int, int]] = []  # ranges reported lost, for late arrivals

    @property
    def through(self) -> int:
        """Every seq up to here is delivered or reported lost (the cumulative ack)."""
        return 0 if self.next is None else self.next - 1

    @property
    def held(self) -> int:
        return len(self._held)

    def offer(self, marker: Marker, now: float) -> Outcome:
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
            self._held[seq] = (marker, now)
            self._drain(out)
            if len(self._held) > self.max_held:  # a sender far ahead must not eat memory
                self._skip_to(min(self._held), out)
        return out

    def expire(self, now: float) -> Outcome:
        """Give up waiting for a missing seq once later ones have waited ``gap_timeout``."""
        out = Outcome()
        while self._held:
            first = min(self._held)
            oldest = min(t for _, t in self._held.values())
            if now - oldest < self.gap_timeout:
                break
            self._skip_to(first, out)
        return out

    def _skip_to(self, seq: int, out: Outcome) -> None:
        assert self.next is not None
        cursor = self.next
        for held_seq in sorted(k for k in self._held if k < seq):
            if held_seq > cursor:
                self._report(cursor, held_seq - 1, out)
            out.deliver.append(self._held.pop(held_seq)[0])
            cursor = held_seq + 1
        if seq > cursor:
            self._report(cursor, seq - 1, out)
        self.next = seq
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
            out.deliver.append(self._held.pop(self.next)[0])
            self.next += 1
