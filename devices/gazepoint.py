"""Gazepoint eye trackers through the Open Gaze API, published as Attune's gaze layout.

Gazepoint Control serves the Open Gaze API on TCP port 4242: XML lines ending
in CRLF. We enable the per-eye point of gaze and pupil diameter, then
``<SET ID="ENABLE_SEND_DATA" STATE="1" />``; the server then sends one
``<REC LPOGX=".." LPOGY=".." LPOGV=".." RPOGX=".." ... LPMM=".." .../>`` per
sample. Each record becomes one sample in the channel layout of the simulated
tracker (configs/gaze_layouts.yaml, ``attune``), so the panel, the analysis
and the device check read it like any other gaze.

The server is another program on the network: lines are bounded, attributes
parsed by a strict pattern, numbers range-checked; a bad line is counted and
reported, never published. The outlet (one source_id) lives as long as the
adapter, which reconnects when Gazepoint Control goes away and comes back.
"""
from __future__ import annotations

import math
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pylsl

from configs import Fields
from devices.eyetracker import CHANNELS
from devices.metadata import stream_info
from devices.status import ReportsStatus

DEFAULT_PORT = 4242
MAX_LINE = 4096  # bytes; a full REC with every field enabled is under 1 kB
ENABLE = ["ENABLE_SEND_POG_LEFT", "ENABLE_SEND_POG_RIGHT", "ENABLE_SEND_PUPILMM", "ENABLE_SEND_DATA"]
RECORD = re.compile(rb'^<REC((?:\s+[A-Z_0-9]{1,16}="[^"<>]{0,32}")*)\s*/>$')
ATTRIBUTE = re.compile(rb'([A-Z_0-9]{1,16})="([^"<>]{0,32})"')
# (channel in Attune's layout, Open Gaze field)
FIELDS = [("left_x", "LPOGX"), ("left_y", "LPOGY"), ("left_pupil", "LPMM"),
          ("right_x", "RPOGX"), ("right_y", "RPOGY"), ("right_pupil", "RPMM"),
          ("left_valid", "LPOGV"), ("right_valid", "RPOGV")]


@dataclass
class GazepointConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    rate: float = 60.0  # GP3: 60 Hz, GP3 HD: 150 Hz
    name: str = "Gazepoint"
    source_id: str = "attune-gazepoint"
    retry_every: float = 1.0


def parse_section(sec: Fields) -> tuple[GazepointConfig, bool]:
    enabled = sec.flag("enabled", False)
    cfg = GazepointConfig(
        host=sec.text("host", "127.0.0.1"),
        port=sec.number("port", DEFAULT_PORT, lo=1, hi=65535, integer=True),
        rate=sec.number("rate", 60.0, lo=1, hi=1000),
        name=sec.text("name", "Gazepoint"),
        source_id=sec.text("source_id", "attune-gazepoint"),
    )
    sec.finish()
    if not cfg.host:
        raise sec.error("host", "must name the computer running Gazepoint Control")
    return cfg, enabled


def parse_record(line: bytes) -> list[float] | None:
    """One sample (Attune's channel order) from a ``<REC .../>`` line; None if it is not a usable record."""
    match = RECORD.match(line.strip())
    if match is None:
        return None
    values = {key.decode(): raw for key, raw in ATTRIBUTE.findall(match.group(1))}
    if "LPOGX" not in values and "RPOGX" not in values:
        return None
    sample = []
    for _, key in FIELDS:
        raw = values.get(key)
        try:
            value = float(raw) if raw is not None else math.nan
        except ValueError:
            return None
        if math.isinf(value) or (math.isfinite(value) and abs(value) > 1e4):
            return None
        sample.append(value)
    for eye in (0, 3):  # an eye the tracker marks invalid carries NaN, as in the simulated layout
        if not sample[6 + eye // 3] > 0.5:
            sample[eye:eye + 3] = [math.nan] * 3
    return sample


class GazepointAdapter(ReportsStatus, threading.Thread):
    """Connects to Gazepoint Control, enables the data it needs and publishes each record on LSL."""

    def __init__(self, cfg: GazepointConfig, on_status: Callable[[str], None] | None = None) -> None:
        super().__init__(name=f"gazepoint-{cfg.name}", daemon=True)
        self.cfg = cfg
        self.init_status(cfg.name, on_status)
        self.info = stream_info(cfg.name, "Gaze", CHANNELS, cfg.rate, "float32", cfg.source_id,
                                manufacturer="Gazepoint (Open Gaze API)")
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.samples_sent = 0
        self.garbage = 0
        self.outlet: pylsl.StreamOutlet | None = None

    def run(self) -> None:
        self.outlet = pylsl.StreamOutlet(self.info, chunk_size=0, max_buffered=360)
        self.ready.set()
        where = f"{self.cfg.host}:{self.cfg.port}"
        while not self.stop_event.is_set():
            try:
                with socket.create_connection((self.cfg.host, self.cfg.port), timeout=2.0) as sock:
                    sock.settimeout(0.2)
                    for command in ENABLE:
                        sock.sendall(f'<SET ID="{command}" STATE="1" />\r\n'.encode())
                    self.report(f"connected to Gazepoint Control at {where}")
                    self._read(sock)
                if not self.stop_event.is_set():
                    self.report(f"Gazepoint Control at {where} closed the connection; reconnecting")
            except OSError as exc:
                self.report(f"cannot reach Gazepoint Control at {where}: {exc}; retrying")
            self.stop_event.wait(self.cfg.retry_every)
        self.outlet = None

    def _read(self, sock: socket.socket) -> None:
        buffer = bytearray()
        while not self.stop_event.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            buffer += data
            while True:
                end = buffer.find(b"\n")
                if end < 0:
                    break
                line = bytes(buffer[:end])
                del buffer[:end + 1]
                self._line(line)
            if len(buffer) > MAX_LINE:
                self._bad(bytes(buffer[:40]))
                buffer.clear()

    def _line(self, line: bytes) -> None:
        line = line.strip()
        if not line or line.startswith(b"<ACK") or line.startswith(b"<CAL"):
            return
        sample = parse_record(line) if len(line) <= MAX_LINE else None
        if sample is None:
            self._bad(line)
            return
        self.outlet.push_sample(sample, pylsl.local_clock())
        self.samples_sent += 1
        if self.status.startswith("unreadable"):
            self.report(f"receiving from {self.cfg.host}:{self.cfg.port} again")

    def _bad(self, line: bytes) -> None:
        self.garbage += 1
        self.report(f"unreadable line from Gazepoint Control: {line[:40]!r} ({self.garbage} so far)")

    def stop(self, timeout: float = 3.0) -> None:
        self.stop_event.set()
        self.join(timeout)
