"""Marker ordering under sparse numbering: the cost per marker of holding and expiring.

A session that numbers its markers 2, 4, 6, ... leaves a gap before every
one, so every marker waits and then expires. This measures, for growing
counts, how long offering them and then expiring them all takes, and the
most held at once (bounded by ``Sequencer.max_held``). Work per marker
should stay flat as the count grows. Figures go to docs/markers.md.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync.ordering import Sequencer
from sync.protocol import MarkerMessage


def run(count: int) -> tuple[float, float, int]:
    q = Sequencer(gap_timeout=1.0)
    most = 0
    began = time.perf_counter()
    for i in range(1, count + 1):
        q.offer(MarkerMessage("s", "x", 2 * i, float(i), "e", {}), 0.0)
        most = max(most, q.held)
    offered = time.perf_counter() - began
    began = time.perf_counter()
    out = q.expire(10.0)
    expired = time.perf_counter() - began
    assert q.held == 0 and len(out.lost) <= count
    return offered, expired, most


def main() -> int:
    print("| sparse markers | offer, us/marker | expire (all held), ms | most held |")
    print("|---|---|---|---|")
    for count in (10_000, 30_000, 100_000, 300_000):
        offered, expired, most = run(count)
        print(f"| {count:,} | {offered / count * 1e6:.1f} | {expired * 1e3:.1f} | {most:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
