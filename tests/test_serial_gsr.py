"""A plain serial GSR board played byte for byte through a pseudo-terminal (Linux fixture)."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from configs import ConfigError, Fields
from devices.serial_gsr import SerialGSRConfig, SerialGSRDevice, parse_line, parse_section, to_microsiemens
from tests.serial_fixtures import Collector, LineDevice, PtyPort, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty fixture is Linux-only")

RATE = 50.0


def reading(i: int) -> float:
    return round(4.0 + 0.01 * (i % 500), 2)


@pytest.fixture
def board(tmp_path, unique):
    """A line device on a pty, the Attune device thread reading it, and an LSL collector."""
    port = PtyPort(tmp_path / "ttyGSR")
    player = LineDevice(port, RATE, lambda i: f"{i},{reading(i):.2f}\r\n".encode())
    cfg = SerialGSRConfig(kind="serial_gsr", port=str(port.path), rate=RATE, name=f"{unique}GSR",
                          source_id=f"{unique}-gsr", column=1, stall_after=0.5, retry_every=0.1)
    device = SerialGSRDevice(cfg)
    device.start()
    assert device.ready.wait(10)
    wait_for(lambda: device.status.startswith("connected"), what="the port to open")
    collector = Collector(cfg.source_id)
    player.start()
    player.playing.set()
    yield port, player, device, collector
    player.stop_event.set()
    collector.stop()
    device.stop()
    port.unplug()


def assert_true_readings(values: list[float]) -> None:
    """Every published value is one the board printed, in order (nothing invented, nothing garbled)."""
    assert values, "readings arrived"
    allowed = {reading(i) for i in range(500)}
    assert all(round(v, 2) in allowed for v in values), "only real readings are published"


def test_readings_arrive_at_the_board_rate_with_their_values(board):
    _, player, device, collector = board
    wait_for(lambda: len(collector.values) >= 150, what="150 readings")
    with player.lock:
        sent = player.sent
    got = np.round(np.array(collector.values[:150]), 2)
    first = int(np.argmin(np.abs(np.array([reading(i) for i in range(sent)]) - got[0])))
    np.testing.assert_allclose(got, [reading(first + k) for k in range(150)], atol=1e-5)
    stamps = np.array(collector.stamps[:150])
    assert np.all(np.diff(stamps) > 0), "stamps increase"
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert 0.75 * RATE < rate < 1.25 * RATE, f"{rate:.1f} Hz from a {RATE:g} Hz board"
    info = collector.inlet.info(timeout=5)
    assert info.type() == "GSR" and info.channel_count() == 1
    assert info.desc().child("channels").child("channel").child_value("unit") == "microsiemens"


def test_unplugged_board_is_reported_and_the_stream_resumes(board):
    port, player, device, collector = board
    wait_for(lambda: len(collector.values) >= 20, what="readings before the unplug")
    with player.lock:
        player.playing.clear()
        port.unplug()
    wait_for(lambda: "unplugged" in device.status or "cannot open" in device.status, what="an unplugged message")
    assert any("unplugged" in e for e in device.events), device.events
    before = len(collector.values)
    with player.lock:
        port.plug()
    wait_for(lambda: device.status.startswith("connected"), what="the board to reconnect")
    player.playing.set()
    wait_for(lambda: len(collector.values) >= before + 30, what="readings after the board came back")
    assert device.reconnects >= 1
    assert collector.inlet.info(timeout=5).source_id() == device.cfg.source_id
    assert_true_readings(collector.values)


def test_garbage_bytes_are_reported_and_never_published(board):
    port, player, device, collector = board
    wait_for(lambda: len(collector.values) >= 20, what="readings before the garbage")
    with player.lock:
        port.write(b"\x00\xff\xfe\x81garbage\r\n")
        port.write(b"12,not-a-number\r\n")
        port.write(b"x" * 5000)  # a flood with no line end
        port.write(b"\n")
    wait_for(lambda: any("garbage" in e for e in device.events), what="a garbage message")
    before = len(collector.values)
    wait_for(lambda: len(collector.values) >= before + 30, what="readings after the garbage")
    wait_for(lambda: "again" in device.status, what="the device to report it reads again")
    assert device.garbage >= 3
    assert_true_readings(collector.values)


def test_stalled_board_is_reported_and_recovers(board):
    _, player, device, collector = board
    wait_for(lambda: len(collector.values) >= 20, what="readings before the stall")
    player.playing.clear()
    wait_for(lambda: device.status.startswith("stalled"), what="a stalled message")
    before = len(collector.values)
    player.playing.set()
    wait_for(lambda: "again" in device.status and len(collector.values) > before + 20, what="readings after the stall")
    assert_true_readings(collector.values)


def test_line_parsing_and_conversions():
    cfg = SerialGSRConfig(kind="serial_gsr", port="p", rate=10, name="n", source_id="s")
    assert parse_line(b"5.25", cfg) == 5.25
    assert parse_line(b"gsr=5.5 uS", cfg) == 5.5
    assert parse_line(b"\xff\xfe", cfg) is None
    assert parse_line(b"nan", cfg) is None
    assert parse_line(b"1e9", cfg) is None, "beyond any skin conductance"
    assert to_microsiemens(200.0, "kiloohms") == pytest.approx(5.0)
    assert to_microsiemens(250_000.0, "ohms") == pytest.approx(4.0)
    assert to_microsiemens(0.0, "ohms") is None
    assert to_microsiemens(512, "linear", scale=0.01, offset=1.0) == pytest.approx(6.12)


@pytest.mark.parametrize("section, field", [
    ({"enabled": True}, "serial_gsr.port"),
    ({"port": "COM3", "conversion": "volts"}, "serial_gsr.conversion"),
    ({"port": "COM3", "scale": 2.0}, "serial_gsr.scale"),
    ({"port": "COM3", "baudrate": 12}, "serial_gsr.baudrate"),
    ({"port": "COM3", "bauds": 9600}, "serial_gsr.bauds"),
])
def test_bad_serial_sections_name_the_field(section, field):
    with pytest.raises(ConfigError) as err:
        parse_section("serial_gsr", Fields(section, "devices.yaml", "serial_gsr"))
    assert err.value.field == field and "devices.yaml" in str(err.value)


def test_devices_yaml_validates_the_real_device_sections(tmp_path):
    from devices.hardware import load_hardware
    from devices.lab import load_devices
    path = tmp_path / "devices.yaml"
    path.write_text("gsr: {enabled: false}\nshimmer_gsr: {enabled: true, port: COM7, rate: 5000}\n")
    with pytest.raises(ConfigError) as err:
        load_devices(path)
    assert err.value.field == "shimmer_gsr.rate" and str(path) in str(err.value)
    path.write_text("gazepoint: {enabled: true, port: 99999}\n")
    with pytest.raises(ConfigError) as err:
        load_hardware(path)
    assert err.value.field == "gazepoint.port"
    from devices.lab import DEFAULT_DEVICES
    assert load_hardware(DEFAULT_DEVICES) == [], "real devices are off by default"


def test_devices_run_publishes_the_board_named_in_the_config(tmp_path, unique):
    from tests.test_record_cli import attune
    port = PtyPort(tmp_path / "ttyBoard")
    player = LineDevice(port, RATE, lambda i: f"{reading(i):.2f}\n".encode())
    config = tmp_path / "devices.yaml"
    config.write_text(f"serial_gsr: {{enabled: true, port: {port.path}, rate: {RATE:g}, name: {unique}Board, "
                      f"source_id: {unique}-board}}\n")
    proc = attune("devices", "run", "--devices", str(config), "--duration", "60")
    try:
        collector = Collector(f"{unique}-board")
        player.start()
        player.playing.set()
        wait_for(lambda: len(collector.values) >= 50, what="readings through `devices run`")
        assert_true_readings(collector.values)
        collector.stop()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
        player.stop_event.set()
        port.unplug()
    assert f"{unique}Board: connected to {port.path}" in out, out + err
