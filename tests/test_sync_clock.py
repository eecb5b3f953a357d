"""The NTP-style estimator on synthetic exchanges with known offset, drift and delays."""
from __future__ import annotations

import random

import pytest

from sync.clock import ClockEstimator


def simulate(est: ClockEstimator, *, offset: float, drift: float, seconds: float, rate: float = 4.0,
             seed: int = 1, spikes: float = 0.2) -> None:
    """Sender clock s; server clock = s + offset + drift * s; random, asymmetric one-way delays."""
    rng = random.Random(seed)
    server = lambda s: s + offset + drift * s  # noqa: E731
    s = 1000.0
    for _ in range(int(seconds * rate)):
        up = 60e-6 + rng.expovariate(1 / 40e-6) + (rng.random() < spikes) * rng.uniform(0, 5e-3)
        down = 60e-6 + rng.expovariate(1 / 40e-6) + (rng.random() < spikes) * rng.uniform(0, 5e-3)
        t0 = s
        t1 = server(t0 + up)
        t2 = t1 + 20e-6
        t3 = t0 + up + 20e-6 / (1 + drift) + down
        est.add(t0, t1, t2, t3)
        s += 1 / rate


def test_offset_from_a_few_exchanges_is_bounded_by_half_the_round_trip():
    est = ClockEstimator()
    assert est.estimate is None
    simulate(est, offset=-1000.0, drift=0.0, seconds=1.5, spikes=0.0)
    e = est.estimate
    assert e is not None and e.drift == 0.0
    assert abs(e.offset - -1000.0) <= e.uncertainty
    assert abs(e.offset - -1000.0) < 60e-6


def test_drift_is_tracked_and_delay_spikes_are_filtered_out():
    est = ClockEstimator(window=60.0, block=2.0)
    simulate(est, offset=3.25, drift=20e-6, seconds=40, spikes=0.3)
    e = est.estimate
    assert e.drift * 1e6 == pytest.approx(20.0, abs=3.0)
    truth = 3.25 + 20e-6 * e.at
    assert abs(e.offset - truth) < 50e-6
    # mapping a sender stamp uses offset and drift
    s = e.at + 1.0
    assert abs(e.map(s) - (s + 3.25 + 20e-6 * s)) < 60e-6


def test_impossible_exchanges_are_refused():
    est = ClockEstimator()
    assert not est.add(10.0, 5.0, 4.0, 10.1)  # server replied before it received
    assert not est.add(10.0, 5.0, 5.5, 10.1)  # round trip below zero
    assert est.rejected == 2 and est.estimate is None
