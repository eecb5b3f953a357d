"""Real GSR sensors on a serial port, published as the same LSL ``GSR`` stream the simulator makes.

Two kinds of device:
- a plain line device (Arduino-style GSR boards): one reading per line, in
  microsiemens, kiloohms, ohms or raw units with a linear conversion;
- a Shimmer3 GSR+ over its Bluetooth serial port (RFCOMM) or USB dock, driven
  by ``pyshimmer`` (devices/shimmer.py), converted to microsiemens with
  Shimmer's own equation.

Both run in a thread that keeps one LSL outlet (one source_id) for its whole
life. An unplugged device, garbage bytes or a stalled device each give a clear
status message; the thread keeps trying and the stream carries on, same
source_id, when the device comes back. Every input from the port is bounded
(line length, values) before it is believed.
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pylsl

from configs import Fields
from devices.gsr import CHANNELS
from devices.metadata import stream_info
from devices.status import ReportsStatus

MAX_LINE = 256  # bytes: no GSR board prints more for one reading
MAX_MICROSIEMENS = 200.0  # far above any skin (2-20 uS): larger values are a wiring or parsing fault
CONVERSIONS = ["microsiemens", "kiloohms", "ohms", "linear"]


@dataclass
class SerialGSRConfig:
    kind: str  # "serial_gsr" or "shimmer_gsr"
    port: str
    rate: float
    name: str
    source_id: str
    baudrate: int = 115200
    conversion: str = "microsiemens"
    scale: float = 1.0
    offset: float = 0.0
    column: int = 0
    stall_after: float = 1.0  # seconds without a reading before the device counts as stalled
    retry_every: float = 0.5  # seconds between attempts to (re)open the port


def parse_section(kind: str, sec: Fields) -> tuple[SerialGSRConfig, bool]:
    """Read a ``serial_gsr:`` or ``shimmer_gsr:`` section; returns the config and whether it is enabled."""
    enabled = sec.flag("enabled", False)
    shimmer = kind == "shimmer_gsr"
    cfg = SerialGSRConfig(
        kind=kind,
        port=sec.text("port", required=enabled) or "",
        rate=sec.number("rate", 128.0 if shimmer else 32.0, lo=1, hi=1024),
        name=sec.text("name", "ShimmerGSR" if shimmer else "SerialGSR"),
        source_id=sec.text("source_id", f"attune-{kind.replace('_', '-')}"),
        stall_after=sec.number("stall_after", 1.0, lo=0.05, hi=60),
    )
    if not shimmer:
        cfg.baudrate = sec.number("baudrate", 115200, lo=300, hi=4_000_000, integer=True)
        cfg.conversion = sec.text("conversion", "microsiemens", choices=CONVERSIONS)
        cfg.scale = sec.number("scale", 1.0)
        cfg.offset = sec.number("offset", 0.0)
        cfg.column = sec.number("column", 0, lo=0, hi=63, integer=True)
        if cfg.conversion != "linear" and ("scale" in sec.data or "offset" in sec.data):
            raise sec.error("scale" if "scale" in sec.data else "offset",
                            f"only applies with conversion: linear (conversion is {cfg.conversion})")
    sec.finish()
    if enabled and not cfg.port:
        raise sec.error("port", "must name the serial port (see `main.py devices list`)")
    if not cfg.name:
        raise sec.error("name", "must not be empty")
    return cfg, enabled


def to_microsiemens(value: float, conversion: str, scale: float = 1.0, offset: float = 0.0) -> float | None:
    """One reading in microsiemens, or None when it cannot be skin conductance."""
    if not math.isfinite(value):
        return None
    if conversion == "microsiemens":
        us = value
    elif conversion == "linear":
        us = scale * value + offset
    elif value <= 0:
        return None  # a resistance of zero or less is a fault, not a very wet hand
    else:
        us = (1000.0 if conversion == "kiloohms" else 1e6) / value
    return us if 0.0 <= us <= MAX_MICROSIEMENS else None


def parse_line(line: bytes, cfg: SerialGSRConfig) -> float | None:
    """The reading in one line (``512``, ``t=12,512``, ``4.2 uS``), or None for garbage."""
    try:
        text = line.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    fields = text.replace(";", ",").replace("\t", ",").split(",")
    if cfg.column >= len(fields):
        return None
    field = fields[cfg.column].strip()
    if "=" in field:
        field = field.split("=", 1)[1]
    token = field.split()[0] if field.split() else ""
    try:
        value = float(token)
    except ValueError:
        return None
    return to_microsiemens(value, cfg.conversion, cfg.scale, cfg.offset)


class DeviceGone(Exception):
    """The port vanished or failed (``unplugged``) or the protocol was lost: reconnect."""

    def __init__(self, message: str, unplugged: bool = True) -> None:
        super().__init__(message)
        self.unplugged = unplugged


class SerialGSRDevice(ReportsStatus, threading.Thread):
    """Reads one serial GSR device and publishes its readings on one LSL outlet.

    ``status`` is a one-line state a technician can act on ("connected to ...",
    "unplugged: ...", "garbage bytes from ...", "stalled: ..."); ``events``
    keeps every change, and ``on_status`` (if given) hears each one.
    """

    def __init__(self, cfg: SerialGSRConfig, on_status: Callable[[str], None] | None = None) -> None:
        super().__init__(name=f"serial-gsr-{cfg.name}", daemon=True)
        self.cfg = cfg
        self.init_status(cfg.name, on_status)
        self.info = stream_info(cfg.name, "GSR", CHANNELS, cfg.rate, "float32", cfg.source_id,
                                manufacturer="Shimmer" if cfg.kind == "shimmer_gsr" else "serial line device")
        self.outlet: pylsl.StreamOutlet | None = None
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.samples_sent = 0
        self.garbage = 0
        self.reconnects = 0
        self._last_sample: float | None = None
        self._last_stamp = 0.0
        self._stalled = False

    def push(self, values: list[float], arrival: float) -> None:
        """Publish readings that arrived together; stamps step back from the arrival by the nominal period."""
        n = len(values)
        self.push_stamped(values, arrival - (n - 1 - np.arange(n)) / self.cfg.rate, arrival)

    def push_stamped(self, values: list[float], stamps: np.ndarray, arrival: float) -> None:
        """Publish readings with their LSL stamps, never earlier than the previous sample (monotonic)."""
        if not len(values):
            return
        n = len(values)
        stamps = np.maximum(np.asarray(stamps, dtype=float), self._last_stamp + 1e-6 * (1 + np.arange(n)))
        for value, stamp in zip(values, stamps):
            self.outlet.push_sample([value], float(stamp))
        self._last_stamp = float(stamps[-1])
        self._last_sample = arrival
        self.samples_sent += n
        if self._stalled:
            self._stalled = False
            self.report(f"receiving from {self.cfg.port} again")

    def check_stall(self, now: float) -> None:
        if self._last_sample is not None and not self._stalled and now - self._last_sample > self.cfg.stall_after:
            self._stalled = True
            self.report(f"stalled: no reading from {self.cfg.port} for {now - self._last_sample:.1f} s "
                        f"(check the sensor's power and cable)")

    # -- the loop -------------------------------------------------------------
    def run(self) -> None:
        self.outlet = pylsl.StreamOutlet(self.info, chunk_size=0, max_buffered=360)
        self.ready.set()
        connected_once = False
        while not self.stop_event.is_set():
            try:
                session = self._open()
            except DeviceGone as exc:
                self.report(f"cannot open {self.cfg.port}: {exc}; retrying every {self.cfg.retry_every:g} s")
                self.stop_event.wait(self.cfg.retry_every)
                continue
            if connected_once:
                self.reconnects += 1
            connected_once = True
            self._last_sample = pylsl.local_clock()  # a device that never sends counts as stalled too
            self._stalled = False
            self.report(f"connected to {self.cfg.port}")
            try:
                session()
            except DeviceGone as exc:
                if exc.unplugged:
                    self.report(f"unplugged: {self.cfg.port} {exc}; waiting for it to come back")
                else:
                    self.report(f"reconnecting to {self.cfg.port}: {exc}")
                self.stop_event.wait(self.cfg.retry_every)
        self.outlet = None

    def _open(self) -> Callable[[], None]:
        """Open the port; return the reading loop for this connection (raises DeviceGone)."""
        if self.cfg.kind == "shimmer_gsr":
            from devices.shimmer import ShimmerSession
            return ShimmerSession(self).open()
        return LineSession(self).open()

    def stop(self, timeout: float = 3.0) -> None:
        self.stop_event.set()
        self.join(timeout)


class LineSession:
    """One connection to a line device: read, split lines, parse, publish."""

    def __init__(self, device: SerialGSRDevice) -> None:
        self.device = device
        self.cfg = device.cfg
        self.port = None
        self.buffer = bytearray()
        self._garbage_reported = -math.inf

    def open(self) -> Callable[[], None]:
        import serial
        try:
            self.port = serial.Serial(self.cfg.port, self.cfg.baudrate, timeout=0.1)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceGone(str(exc)) from exc
        return self.loop

    def loop(self) -> None:
        import serial
        device = self.device
        try:
            while not device.stop_event.is_set():
                try:
                    data = self.port.read(max(1, min(self.port.in_waiting, 4096)))
                except (serial.SerialException, OSError, TypeError) as exc:
                    raise DeviceGone(f"stopped answering ({exc})") from exc
                now = pylsl.local_clock()
                values = self.feed(data, now) if data else []
                device.push(values, now)
                device.check_stall(now)
        finally:
            self.port.close()

    def feed(self, data: bytes, now: float) -> list[float]:
        """Readings in the complete lines of ``data``; garbage is counted and reported, never published."""
        self.buffer += data
        values, bad = [], []
        while True:
            end = self.buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self.buffer[:end]).rstrip(b"\r")
            del self.buffer[:end + 1]
            if not line.strip():
                continue
            value = parse_line(line, self.cfg) if len(line) <= MAX_LINE else None
            if value is None:
                bad.append(line)
            else:
                values.append(value)
        if len(self.buffer) > MAX_LINE:  # no newline in sight: the bytes are not lines at all
            bad.append(bytes(self.buffer[:40]))
            self.buffer.clear()
        if bad:
            self.device.garbage += len(bad)
            if now - self._garbage_reported > 1.0 or not values:
                self._garbage_reported = now
                self.device.report(f"garbage bytes from {self.cfg.port}: {bad[-1][:40]!r} "
                                   f"({self.device.garbage} unreadable lines so far; check baud rate and conversion)")
        if values and self.device.status.startswith("garbage"):
            self.device.report(f"receiving from {self.cfg.port} again")
        return values
