"""Serial devices played through a pseudo-terminal (Linux test fixture, not product code).

The product opens a port by name; the test plays the device on the pty's
master side, byte for byte. The port name is a symlink (as udev's
/dev/serial/by-id/ names are), so a device that is unplugged and plugged back
comes back under the same name while the pty behind it is new.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pylsl


class PtyPort:
    """A pseudo-terminal whose slave end is reachable at ``path`` (a symlink)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.master: int | None = None
        self.slave: int | None = None
        self.plug()

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        if self.path.is_symlink():
            self.path.unlink()
        self.path.symlink_to(os.ttyname(self.slave))

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None
        if self.path.is_symlink():
            self.path.unlink()

    def write(self, data: bytes) -> None:
        if self.master is not None:
            os.write(self.master, data)

    def read(self, n: int, timeout: float) -> bytes:
        """Up to ``n`` bytes the host sent, waiting at most ``timeout`` seconds."""
        import select
        if self.master is None:
            return b""
        ready, _, _ = select.select([self.master], [], [], timeout)
        return os.read(self.master, n) if ready else b""


class LineDevice(threading.Thread):
    """An Arduino-style board: prints ``line(i)`` at ``rate`` lines per second while ``playing``."""

    def __init__(self, port: PtyPort, rate: float, line: Callable[[int], bytes]) -> None:
        super().__init__(daemon=True)
        self.port, self.rate, self.line = port, rate, line
        self.playing = threading.Event()
        self.stop_event = threading.Event()
        self.sent = 0
        self.lock = threading.Lock()

    def run(self) -> None:
        start = time.monotonic()
        while not self.stop_event.wait(0.005):
            if not self.playing.is_set():
                start = time.monotonic() - self.sent / self.rate
                continue
            due = int((time.monotonic() - start) * self.rate)
            with self.lock:
                while self.sent < due and self.playing.is_set():
                    try:
                        self.port.write(self.line(self.sent))
                    except OSError:
                        break
                    self.sent += 1


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Collector(threading.Thread):
    """Pulls one LSL stream (by source_id) into lists, as a recorder would."""

    def __init__(self, source_id: str) -> None:
        super().__init__(daemon=True)
        found = pylsl.resolve_byprop("source_id", source_id, timeout=10.0)
        assert found, f"stream {source_id} is on the network"
        self.info = found[0]
        self.inlet = pylsl.StreamInlet(found[0], recover=True)
        self.inlet.open_stream(timeout=10.0)
        self.values: list[float] = []
        self.stamps: list[float] = []
        self.stop_event = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.stop_event.is_set():
            chunk, stamps = self.inlet.pull_chunk(timeout=0.1)
            self.values.extend(row[0] for row in chunk)
            self.stamps.extend(stamps)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(2.0)
        self.inlet.close_stream()


class ShimmerPlayer(threading.Thread):
    """The device side of a Shimmer3 GSR+ (LogAndStream firmware) as pyshimmer speaks to it.

    Commands (one byte, then fixed arguments) are acknowledged with 0xFF;
    firmware version (0x2E) and inquiry (0x01) answer with their response
    codes; once streaming (0x07) every sample is a data packet: 0x00, a 3-byte
    tick counter and the 16-bit GSR word (range in bits 14-15), little-endian.
    """

    ARG_BYTES = {0x2E: 0, 0x01: 0, 0x05: 2, 0x08: 3, 0x07: 0, 0x20: 0}

    def __init__(self, port: PtyPort, word: Callable[[int], int]) -> None:
        super().__init__(daemon=True)
        self.port, self.word = port, word
        self.rate = 51.2
        self.divider = 640
        self.streaming = False
        self.playing = threading.Event()
        self.playing.set()
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.sent = 0
        self.commands: list[int] = []
        self.lose: set[int] = set()  # packets lost on the air: counted by the device clock, never sent
        self.burst = 1  # send packets in groups, as Bluetooth delivers them
        self._pending = bytearray()

    def run(self) -> None:
        import struct
        start = time.monotonic()
        while not self.stop_event.is_set():
            with self.lock:
                try:
                    self._pending += self.port.read(256, 0.0)
                except OSError:
                    self._pending.clear()
                while self._pending:
                    code = self._pending[0]
                    need = 1 + self.ARG_BYTES.get(code, 0)
                    if len(self._pending) < need:
                        break
                    args = bytes(self._pending[1:need])
                    del self._pending[:need]
                    self.commands.append(code)
                    reply = b"\xff"
                    if code == 0x2E:
                        reply += b"\x2f" + struct.pack("<HHBB", 3, 0, 11, 0)
                    elif code == 0x01:
                        reply += b"\x02" + struct.pack("<HIBB", self.divider, 0, 1, 1) + b"\x1c"
                    elif code == 0x05:
                        self.divider = struct.unpack("<H", args)[0]
                        self.rate = 32768 / self.divider
                    elif code == 0x07:
                        self.streaming = True
                        start = time.monotonic() - self.sent / self.rate
                    elif code == 0x20:
                        self.streaming = False
                    self._write(reply)
                if self.streaming and self.playing.is_set():
                    due = int((time.monotonic() - start) * self.rate)
                    while due - self.sent >= self.burst:
                        for _ in range(self.burst):
                            tick = (self.sent * self.divider) & 0xFFFFFF
                            if self.sent not in self.lose:
                                self._write(b"\x00" + tick.to_bytes(3, "little")
                                            + self.word(self.sent).to_bytes(2, "little"))
                            self.sent += 1
                elif self.streaming:
                    start = time.monotonic() - self.sent / self.rate
            time.sleep(0.005)

    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except OSError:
            pass
