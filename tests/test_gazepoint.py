"""The Gazepoint Open Gaze adapter against a small server that speaks the documented protocol."""
from __future__ import annotations

import math
import socket
import threading
import time

import numpy as np
import pylsl
import pytest

from devices.gaze_layouts import recognise
from devices.gazepoint import GazepointAdapter, GazepointConfig, parse_record
from tests.serial_fixtures import wait_for

RATE = 60.0


def record(i: int) -> bytes:
    lx, ly = 0.2 + 0.001 * (i % 100), 0.4
    valid = 0 if i % 10 == 9 else 1  # every tenth sample the left eye is lost
    return (f'<REC LPOGX="{lx:.5f}" LPOGY="{ly:.5f}" LPOGV="{valid}" RPOGX="{lx + 0.01:.5f}" RPOGY="{ly:.5f}" '
            f'RPOGV="1" LPMM="3.50" LPMMV="1" RPMM="3.60" RPMMV="1" />\r\n').encode()


class FakeGazepointControl(threading.Thread):
    """Open Gaze API server: ACKs each SET, streams REC lines once ENABLE_SEND_DATA is on."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.stop_event = threading.Event()
        self.hang_up = threading.Event()
        self.inject: list[bytes] = []
        self.received: list[str] = []
        self.sent = 0
        self.connections = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self.hang_up.clear()
            with conn:
                self._serve(conn)
        self.server.close()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.005)
        streaming, start, pending = False, 0.0, b""
        while not self.stop_event.is_set() and not self.hang_up.is_set():
            try:
                pending += conn.recv(4096)
            except TimeoutError:
                pass
            except OSError:
                return
            while b"\r\n" in pending:
                line, pending = pending.split(b"\r\n", 1)
                text = line.decode()
                self.received.append(text)
                ident = text.split('ID="')[1].split('"')[0]
                conn.sendall(f'<ACK ID="{ident}" STATE="1" />\r\n'.encode())
                if ident == "ENABLE_SEND_DATA":
                    streaming, start = True, time.monotonic() - self.sent / RATE
            if streaming:
                while self.inject:
                    conn.sendall(self.inject.pop(0))
                due = int((time.monotonic() - start) * RATE)
                try:
                    while self.sent < due:
                        conn.sendall(record(self.sent))
                        self.sent += 1
                except OSError:
                    return


@pytest.fixture
def gazepoint(unique):
    server = FakeGazepointControl()
    server.start()
    adapter = GazepointAdapter(GazepointConfig(port=server.port, rate=RATE, name=f"{unique}GP",
                                               source_id=f"{unique}-gp", retry_every=0.1))
    adapter.start()
    assert adapter.ready.wait(10)
    found = pylsl.resolve_byprop("source_id", f"{unique}-gp", timeout=10)
    inlet = pylsl.StreamInlet(found[0], recover=True)
    inlet.open_stream(timeout=10)
    yield server, adapter, inlet
    adapter.stop()
    server.stop_event.set()
    server.join(2)


def pull(inlet: pylsl.StreamInlet, n: int) -> np.ndarray:
    rows: list[list[float]] = []
    deadline = time.monotonic() + 20
    while len(rows) < n and time.monotonic() < deadline:
        chunk, _ = inlet.pull_chunk(timeout=0.2)
        rows.extend(chunk)
    assert len(rows) >= n, f"{len(rows)} of {n} gaze samples"
    return np.asarray(rows, dtype=float)


def test_gazepoint_records_become_canonical_gaze(gazepoint):
    server, adapter, inlet = gazepoint
    rows = pull(inlet, 60)
    assert [r.split('"')[1] for r in server.received[:4]] == ["ENABLE_SEND_POG_LEFT", "ENABLE_SEND_POG_RIGHT",
                                                               "ENABLE_SEND_PUPILMM", "ENABLE_SEND_DATA"]
    layout = recognise(inlet.info(timeout=5))
    assert layout is not None and layout.name == "attune"
    gaze = layout.canonical(rows)
    lost = ~gaze.left_valid
    assert 0 < lost.sum() <= 60 // 10 + 1, "the left eye is lost every tenth record"
    assert np.all(gaze.right_valid)
    assert np.all((gaze.left_x[~lost] >= 0.2) & (gaze.left_x[~lost] < 0.3))
    np.testing.assert_allclose(gaze.right_pupil, 3.6, atol=1e-5)
    x, _ = gaze.point()
    assert np.all(np.isfinite(x)), "one valid eye is enough for a gaze point"


def test_bad_lines_are_reported_and_hang_ups_reconnect(gazepoint):
    server, adapter, inlet = gazepoint
    pull(inlet, 10)
    server.inject += [b'<REC LPOGX="1e999" />\r\n', b"<REC " + b"A" * 10_000 + b"\r\n", b"\x00\xff\r\n"]
    wait_for(lambda: adapter.garbage >= 3, what="three unreadable lines")
    assert any("unreadable" in e for e in adapter.events)
    server.hang_up.set()
    wait_for(lambda: server.connections >= 2, what="the adapter to reconnect")
    assert any("closed the connection" in e for e in adapter.events)
    rows = pull(inlet, 30)
    assert np.nanmax(rows[:, 0]) < 0.31, "nothing from the bad lines was published"


def test_parse_record_is_strict():
    assert parse_record(record(0))[0] == pytest.approx(0.2)
    assert parse_record(b'<ACK ID="X" />') is None
    assert parse_record(b'<REC LPOGX="abc" />') is None
    assert parse_record(b'<REC FOO="1" />') is None
    sample = parse_record(b'<REC LPOGX="0.5" LPOGY="0.5" LPOGV="0" RPOGX="0.5" RPOGY="0.5" RPOGV="1" />')
    assert math.isnan(sample[0]) and sample[3] == 0.5
