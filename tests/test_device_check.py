"""`main.py devices check` and `devices list` against real LSL outlets: a good stream passes, a bad one fails."""
from __future__ import annotations

import threading

import numpy as np
import pylsl

from devices.check import Measurement, evaluate, passed
from devices.gsr import GSRSource
from devices.metadata import Channel, stream_info
from devices.simulated import DeviceThread, SampleSource
from tests.test_record_cli import attune

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


def run_check(*args: str) -> tuple[int, str]:
    proc = attune("devices", "check", *args)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def test_good_gsr_and_tobii_gaze_pass(unique):
    gsr = DeviceThread(GSRSource(rate=100.0, name=f"{unique}GSR", source_id=f"{unique}-gsr"))
    gaze = DeviceThread(TobiiLike(f"{unique}Tobii", f"{unique}-tobii"), chunk_interval=0.01)
    for t in (gsr, gaze):
        t.start()
        t.ready.wait(5)
    try:
        code, out = run_check(f"{unique}GSR", "--seconds", "3")
        assert code == 0, out
        assert "rate" in out and "PASS" in out and "FAIL" not in out
        code, out = run_check(f"{unique}-tobii", "--seconds", "3")
        assert code == 0, out
        assert "gaze valid (tobii_pro layout)" in out
        assert "100%" in out, "one valid eye makes a valid gaze sample"
        code, out = run_check(f"{unique}-tobii", "--seconds", "2", "--min-valid", "1.01")
        assert code == 1 and "FAIL" in out
    finally:
        gsr.stop()
        gaze.stop()


def test_a_stream_with_gaps_and_the_wrong_rate_fails(unique):
    bad = BadDevice(f"{unique}Bad")
    bad.start()
    try:
        code, out = run_check(f"{unique}Bad", "--seconds", "3")
    finally:
        bad.halt.set()
    assert code == 1, out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert rows["rate"].rstrip().endswith("FAIL"), out
    assert rows["gaps"].rstrip().endswith("FAIL"), out


def test_unknown_stream_is_an_error(unique):
    code, out = run_check(f"{unique}Nothing", "--seconds", "1", "--wait", "0.5")
    assert code == 2 and "no LSL stream named" in out


def test_backward_stamps_fail_the_monotonic_row():
    m = Measurement("x", "x", "GSR", 10.0)
    m.add(np.arange(20) / 10.0, None)
    m.add(np.array([1.0, 2.1, 2.2]), None)
    m.offsets = [0.0]
    m.seconds = 2.2
    rows = {r.check: r for r in evaluate(m)}
    assert rows["monotonic stamps"].ok is False and not passed(list(rows.values()))


def test_list_shows_streams_with_their_gaze_layout(unique):
    gaze = DeviceThread(TobiiLike(f"{unique}Tobii", f"{unique}-tobii"), chunk_interval=0.01)
    gaze.start()
    gaze.ready.wait(5)
    try:
        proc = attune("devices", "list", "--wait", "2")
        out, err = proc.communicate(timeout=60)
    finally:
        gaze.stop()
    assert proc.returncode == 0, err
    assert "Serial ports:" in out and "Cameras:" in out
    line = next(x for x in out.splitlines() if f"{unique}Tobii" in x)
    assert "gaze layout: tobii_pro" in line
