"""A Shimmer3 GSR+ played byte for byte through a pseudo-terminal, driven by pyshimmer (Linux fixture)."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from devices.serial_gsr import SerialGSRConfig, SerialGSRDevice
from devices.shimmer import gsr_raw_to_microsiemens, microsiemens_to_gsr_raw
from tests.serial_fixtures import Collector, PtyPort, ShimmerPlayer, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty fixture is Linux-only")

RATE = 64.0


def skin(i: int) -> float:
    return 3.0 + 0.02 * (i % 300)  # 3 .. 9 uS, a slow ramp


def word(i: int) -> int:
    return microsiemens_to_gsr_raw(skin(i), 1)


def test_shimmer_equation_matches_shimmers_worked_numbers():
    # range 1 (287 kohm), ADC 2000: V = 1.4652 V, R = 287 / (V / 0.5 - 1) = 148.67 kohm -> 6.726 uS
    assert gsr_raw_to_microsiemens((1 << 14) | 2000) == pytest.approx(6.726, abs=0.002)
    # range 0 (40.2 kohm), ADC 1500: V = 1.0989 V, R = 33.56 kohm -> 29.80 uS
    assert gsr_raw_to_microsiemens(1500) == pytest.approx(29.80, abs=0.02)
    assert np.isnan(gsr_raw_to_microsiemens((3 << 14) | 600)), "below the amplifier reference: open electrodes"
    for us in (0.5, 4.0, 12.0):
        assert gsr_raw_to_microsiemens(microsiemens_to_gsr_raw(us, 1)) == pytest.approx(us, abs=0.01)


@pytest.fixture
def shimmer(tmp_path, unique):
    port = PtyPort(tmp_path / "rfcomm0")
    player = ShimmerPlayer(port, word)
    player.start()
    cfg = SerialGSRConfig(kind="shimmer_gsr", port=str(port.path), rate=RATE, name=f"{unique}Shimmer",
                          source_id=f"{unique}-shimmer", stall_after=0.5, retry_every=0.1)
    device = SerialGSRDevice(cfg)
    device.start()
    assert device.ready.wait(10)
    collector = Collector(cfg.source_id)
    yield port, player, device, collector
    collector.stop()
    device.stop()
    player.stop_event.set()
    port.unplug()


def assert_true_readings(values: list[float]) -> None:
    allowed = np.array([skin(i) for i in range(300)])
    dist = np.min(np.abs(np.array(values)[:, None] - allowed[None, :]), axis=1)
    assert dist.max() < 0.01, "every published value is a reading the Shimmer sent"


def test_shimmer_streams_microsiemens_at_its_rate(shimmer):
    _, player, device, collector = shimmer
    wait_for(lambda: len(collector.values) >= 150, what="150 Shimmer samples")
    assert player.rate == pytest.approx(32768 / round(32768 / RATE)), "pyshimmer set the rate we asked for"
    got = np.array(collector.values[:150])
    first = int(np.argmin(np.abs(np.array([skin(i) for i in range(300)]) - got[0])))
    np.testing.assert_allclose(got, [skin(first + k) for k in range(150)], atol=0.01)
    stamps = np.array(collector.stamps[:150])
    assert np.all(np.diff(stamps) > 0)
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert 0.75 * RATE < rate < 1.25 * RATE, f"{rate:.1f} Hz from a {RATE:g} Hz Shimmer"


def test_shimmer_unplugged_then_back(shimmer):
    port, player, device, collector = shimmer
    wait_for(lambda: len(collector.values) >= 20, what="samples before the unplug")
    with player.lock:
        player.streaming = False
        port.unplug()
    wait_for(lambda: any("unplugged" in e for e in device.events), what="an unplugged message")
    before = len(collector.values)
    with player.lock:
        port.plug()
    wait_for(lambda: len(collector.values) >= before + 40, what="samples after the Shimmer came back")
    assert collector.inlet.info(timeout=5).source_id() == device.cfg.source_id
    assert_true_readings(collector.values)


def test_shimmer_garbage_is_reported_and_the_stream_recovers(shimmer):
    port, player, device, collector = shimmer
    wait_for(lambda: len(collector.values) >= 20, what="samples before the garbage")
    with player.lock:
        port.write(b"\x55\xaa\x13\x37")
    wait_for(lambda: any("garbage" in e for e in device.events), what="a garbage message")
    before = len(collector.values)
    wait_for(lambda: len(collector.values) >= before + 40, what="samples after the garbage")
    assert_true_readings(collector.values)


def test_shimmer_stall_is_reported(shimmer):
    _, player, device, collector = shimmer
    wait_for(lambda: len(collector.values) >= 20, what="samples before the stall")
    player.playing.clear()
    wait_for(lambda: device.status.startswith("stalled"), what="a stalled message")
    before = len(collector.values)
    player.playing.set()
    wait_for(lambda: "again" in device.status and len(collector.values) > before + 20, what="samples after the stall")
    assert_true_readings(collector.values)


def test_stamps_follow_the_shimmer_clock_through_bursts_and_lost_packets(shimmer):
    _, player, device, collector = shimmer
    wait_for(lambda: len(collector.values) >= 10, what="first samples")
    with player.lock:
        player.burst = 8  # ~125 ms of samples at once
        lost = player.sent + 40
        player.lose.add(lost)
    start = len(collector.stamps)
    wait_for(lambda: len(collector.stamps) >= start + 120, what="samples in bursts")
    steps = np.diff(np.array(collector.stamps[start:start + 120]))
    period = 1 / player.rate
    regular = np.abs(steps - period) < 1e-4
    assert regular.mean() > 0.9, "bursts do not squeeze the intervals: the device clock sets them"
    assert np.sum(np.abs(steps - 2 * period) < 1e-4) == 1, "the lost packet leaves one double interval"
