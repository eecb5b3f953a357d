"""Helpers several test files share: a 500 Hz LSL pusher, running main.py, free ports, waiting.

Test files import from here, never from each other, so each test file
stands alone and a helper has one home.
"""
from __future__ import annotations

import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pylsl
import pyxdf

from devices.metadata import Channel, stream_info
from devices.simulated import SampleSource

ROOT = Path(__file__).resolve().parent.parent
WAIT_MS = 60_000  # Qt polls: generous, since a poll returns as soon as its condition holds


def attune(*args: str, **kwargs) -> subprocess.Popen:
    """``main.py ARGS`` as a user runs it, with text pipes for stdout and stderr."""
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=kwargs.pop("cwd", ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


class Pusher(threading.Thread):
    """A 500 Hz device pushing a counter, remembering the stamp of every sample."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True)
        self.outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Test", 2, 500.0, "float32", name))
        self.stamps: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.wait(0.01):
            stamps = pylsl.local_clock() - np.arange(5)[::-1] * 0.002
            self.outlet.push_chunk(np.arange(n, n + 5, dtype=np.float32).repeat(2).reshape(5, 2),
                                   stamps.tolist())
            self.stamps.extend(stamps)
            n += 5


def wait_for(condition: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``condition`` until true; the timeout is generous because a busy CI machine is slow."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def wait_for_data(path: Path, proc: subprocess.Popen, min_bytes: int = 20_000, timeout: float = 60.0) -> None:
    """Until the recording at ``path`` has grown past ``min_bytes`` (and its process still runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if path.exists() and path.stat().st_size > min_bytes:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} did not grow")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_streams(path: Path, sync: bool = False) -> list[dict]:
    """Every stream of an XDF file as pyxdf gives it, on the recorded clocks unless ``sync``, not dejittered."""
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=sync, dejitter_timestamps=False)
    return streams


def streams_by_name(path: Path, sync: bool = False) -> dict[str, dict]:
    """``load_streams`` keyed by stream name."""
    return {s["info"]["name"][0]: s for s in load_streams(path, sync)}


def same_values(a, b) -> bool:
    """pyxdf's time series equal: lists of strings row by row, numbers exactly."""
    if isinstance(a, list) or isinstance(b, list):
        return [list(x) for x in a] == [list(x) for x in b]
    return np.array_equal(np.asarray(a), np.asarray(b))


TOBII = ["left_x", "left_y", "left_pupil", "right_x", "right_y", "right_pupil"]


class TobiiLike(SampleSource):
    """A Tobii Pro LSL app stream: gaze at the centre, the left eye lost a third of the time."""

    def __init__(self, name: str, source_id: str) -> None:
        self.info = stream_info(name, "Eyetracker", [Channel(c, "", "") for c in TOBII], 120.0, "float32", source_id)
        self.n = 0

    def generate(self, n: int) -> np.ndarray:
        out = np.tile(np.array([0.5, 0.5, 3.0, 0.5, 0.5, 3.0], dtype=np.float32), (n, 1))
        lost = (self.n + np.arange(n)) % 3 == 0
        out[lost, 0:3] = np.nan
        self.n += n
        return out


class BadDevice(threading.Thread):
    """Claims 100 Hz, sends 70 Hz, and goes silent for half a second once a second."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True)
        self.outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "GSR", 1, 100.0, "float32", name))
        self.halt = threading.Event()

    def run(self) -> None:
        start, n = pylsl.local_clock(), 0
        while not self.halt.wait(0.01):
            due = int((pylsl.local_clock() - start) * 70)
            while n < due:
                stamp = start + n / 70
                if (stamp - start) % 1.0 < 0.5:
                    self.outlet.push_sample([5.0], stamp)
                n += 1


def read_until(proc: subprocess.Popen, text: str, timeout: float = 60.0) -> str:
    """Read the process's stderr until a line holds ``text``; fails if it ends or takes too long first."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in iter(proc.stderr.readline, ""):
            lines.put(line)
            if text in line:
                return
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {text!r} within {timeout:g} s: {seen}") from None
        assert line, f"ended without saying {text!r}: {seen}"
        seen += line
    return seen


def devices_yaml(folder: Path, tag: str, markers: bool = False) -> Path:
    """A lab of simulated devices whose names and ids no other test uses."""
    path = folder / "devices.yaml"
    path.write_text(f"""
eyetracker: {{rate: 300, name: Eye{tag}, source_id: {tag}-eye}}
gsr: {{rate: 128, name: GSR{tag}, source_id: {tag}-gsr}}
webcam: {{rate: 30, name: Cam{tag}, source_id: {tag}-cam, expression: true}}
markers: {{enabled: {str(markers).lower()}, rate: 4, name: Mk{tag}, source_id: {tag}-mk}}
""")
    return path


def start_devices(qtbot, p) -> None:
    """Click the panel's device button and wait until every simulated stream is received."""
    from PyQt6.QtCore import Qt

    from acquisition.live_status import RECEIVING

    qtbot.mouseClick(p.session.devices_button, Qt.MouseButton.LeftButton)
    names = [f"Eye{p.tag}", f"GSR{p.tag}", f"Cam{p.tag}", f"Cam{p.tag}Expression"]
    try:
        qtbot.waitUntil(lambda: all(p.streams.status_of(n) == RECEIVING for n in names), timeout=WAIT_MS)
    except Exception:
        rows = [(r.name, r.status) for r in p.streams.rows]
        raise AssertionError(f"devices: {p.session.devices_state.text()!r}; streams: {rows}") from None
