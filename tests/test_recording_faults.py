"""Disk and output faults: the file stays the truth (disk full, folder deleted, early Ctrl-C)."""
from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pylsl
import pytest
import pyxdf

from acquisition.remote_control import RemoteControl
from acquisition.xdf_writer import XDFWriter
from tests.test_record_cli import attune, load, wait_for_data
from tests.xdf_samples import stream_info_xml

CHANNELS = 32


@pytest.fixture
def small_disk(tmp_path):
    """A 256 kB tmpfs: a disk that fills up within seconds (Linux, as root)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("a small tmpfs needs Linux and root (mount -t tmpfs)")
    folder = tmp_path / "small"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


class WidePusher(threading.Thread):
    """A 1000 Hz, 32-channel device (128 kB/s) whose every channel holds a running counter."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True)
        self.outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "Wide", CHANNELS, 1000.0, "float32", name))
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.wait(0.01):
            block = np.repeat(np.arange(n, n + 10, dtype=np.float32)[:, None], CHANNELS, axis=1)
            self.outlet.push_chunk(block)
            n += 10


def assert_counter_without_garbage(stream: dict) -> None:
    """Every sample on disk is the next count, and the footer says exactly how many there are."""
    values = stream["time_series"]
    assert len(values) > 0
    np.testing.assert_array_equal(np.diff(values[:, 0]), 1.0)
    assert (values == values[:, :1]).all()
    assert np.all(np.diff(stream["time_stamps"]) > 0)
    assert int(stream["footer"]["info"]["sample_count"][0]) == len(values)


def test_a_full_disk_ends_the_file_on_a_whole_chunk_even_if_space_comes_back(small_disk):
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * 100_000)
    writer = XDFWriter(small_disk / "full.xdf")
    writer.add_stream(1, stream_info_xml("w", "W", CHANNELS, 1000.0, "float32"), "float32", 1000.0)
    n = 0
    while writer.fault is None:
        assert n < 1_000_000, "the disk never filled"
        block = np.repeat(np.arange(n, n + 300, dtype=np.float32)[:, None], CHANNELS, axis=1)
        writer.write_samples(1, 1000.0 + np.arange(n, n + 300) / 1000.0, block)
        writer.flush()
        n += 300
    assert "disk full" in writer.fault and str(small_disk / "full.xdf") in writer.fault
    filler.unlink()  # space comes back: nothing already written may be written again
    for _ in range(3):
        writer.write_samples(1, [2000.0], np.zeros((1, CHANNELS), dtype=np.float32))
        writer.flush(sync=True)
    writer.close()
    streams, _ = pyxdf.load_xdf(str(small_disk / "full.xdf"), synchronize_clocks=False,
                                dejitter_timestamps=False)
    (stream,) = streams
    assert_counter_without_garbage(stream)
    assert stream["time_stamps"][-1] < 2000.0 and len(stream["time_stamps"]) < n


def test_record_on_a_full_disk_says_so_at_once_and_exits_non_zero(small_disk, unique):
    pusher = WidePusher(unique)
    pusher.start()
    out = small_disk / "rec.xdf"
    proc = attune("record", "--out", str(out), "--query", f"name='{unique}'", "--markers", "off")
    try:
        stdout, stderr = proc.communicate(timeout=60)  # it stops by itself
    finally:
        pusher.halt.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 4, stderr
    assert "Traceback" not in stderr
    assert f"error: recording stopped: disk full: cannot write {out}" in stderr
    assert unique in stdout and "saved" in stdout
    (stream,) = load(out)
    assert_counter_without_garbage(stream)


def test_serve_status_and_stop_report_a_full_disk(small_disk, unique):
    pusher = WidePusher(unique)
    pusher.start()
    control = RemoteControl(small_disk, marker_endpoint=None, port=0, wait=0.5).start()
    try:
        assert control.execute("filename {template:full.xdf}") == "OK"
        assert control.execute("start") == "OK"
        deadline = time.monotonic() + 60
        while (status := control.execute("status")).startswith("recording") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status.startswith(f"ERROR: recording stopped: disk full: cannot write {small_disk / 'full.xdf'}")
        assert control.execute("stop").startswith("ERROR: recording stopped: disk full")
        assert control.execute("status") == "idle"
    finally:
        pusher.halt.set()
        control.close()
    streams, _ = pyxdf.load_xdf(str(small_disk / "full.xdf"), synchronize_clocks=False,
                                dejitter_timestamps=False)
    (stream,) = [s for s in streams if s["info"]["name"][0] == unique]
    assert_counter_without_garbage(stream)


def test_a_deleted_output_folder_is_recovered_into_a_named_file(tmp_path, unique):
    pusher = WidePusher(unique)
    pusher.start()
    folder = tmp_path / "sub-01" / "ses-01"
    out = folder / "rec.xdf"
    proc = attune("record", "--out", str(out), "--query", f"name='{unique}'", "--markers", "off")
    try:
        wait_for_data(out, proc)
        shutil.rmtree(tmp_path / "sub-01")
        told = read_until(proc, "was deleted while recording")  # at once, while it goes on recording
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=20)
        stderr = told + stderr
    finally:
        pusher.halt.set()
        if proc.poll() is None:
            proc.kill()
    recovered = tmp_path / "rec_recovered.xdf"
    assert proc.returncode == 4, stderr
    assert "Traceback" not in stderr
    assert f"it was saved to {recovered}" in stderr
    (stream,) = load(recovered)
    assert_counter_without_garbage(stream)


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


def test_ctrl_c_while_looking_for_streams_ends_cleanly(tmp_path):
    out = tmp_path / "never.xdf"
    proc = attune("record", "--out", str(out), "--wait", "60", "--markers", "off")
    read_until(proc, "looking for streams")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=20)  # far less than the 60 s wait
    assert proc.returncode == 130
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert "no file was written" in stderr
    assert not out.exists()
