"""Replay and repair of real-world XDF files (tests/xdf_samples.py), checked against pyxdf.

Replay: each file is replayed on LSL, recorded back by the project's
recorder, and the recording must hold every sample and value pyxdf reads
from the original. Repair: crashed and damaged files give copies that
pyxdf loads with a footer for every stream, holding what pyxdf reads
from the damaged file; the input is never changed and no file is overwritten.
"""
from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest
import xdf_samples

from acquisition.player import Player
from acquisition.recorder import Recorder
from acquisition.xdf_index import build_index
from acquisition.xdf_repair import repair
from tests.support import same_values, streams_by_name, wait_for

ROOT = Path(__file__).resolve().parent.parent
logging.getLogger("pyxdf").setLevel(logging.CRITICAL)  # pyxdf logs the damage we make on purpose

REPLAYED = ["minimal", "clock_reset", "implicit_and_empty", "labrecorder", "labrecorder_cut",
            "damaged_cut", "damaged_length_plus_3", "damaged_bad_width_byte", "damaged_garbage_inserted",
            "damaged_huge_length"]
REPAIRED = ["labrecorder_cut", "damaged_cut", "damaged_length_plus_3", "damaged_length_minus_3",
            "damaged_bad_width_byte", "damaged_garbage_inserted", "damaged_huge_length"]



def load(path: Path, sync: bool = True) -> dict[str, dict]:
    return streams_by_name(path, sync)


def get(files: dict[str, Path], name: str) -> Path:
    if name not in files:
        pytest.skip(f"LabRecorderCLI binary missing: {xdf_samples.LABRECORDER_MISSING}")
    return files[name]


def start_recorder(out: Path, names: list[str]) -> Recorder:
    """The project's recorder on the streams named ``names``, once each is connected."""
    queries = [f"name='{n}'" for n in names]
    found: dict[str, pylsl.StreamInfo] = {}
    deadline = time.monotonic() + 30.0
    while len(found) < len(names) and time.monotonic() < deadline:
        for query in queries:
            found.update((i.name(), i) for i in pylsl.resolve_bypred(query, 1, 1.0))
    assert sorted(found) == sorted(names)
    recorder = Recorder(out, queries)
    recorder.start(list(found.values()))
    for reader in recorder.readers.values():
        assert reader.opened.wait(15.0)
    return recorder


def replay_back(path: Path, out: Path, speed: float, start: float = 0.0) -> tuple[dict[str, dict], dict[str, int]]:
    """Replay ``path``, record it back through LSL; (the recording by name, samples the player pushed)."""
    with Player(path, speed=speed, start=start) as player:
        player.open()
        recorder = start_recorder(out, [s.name for s in player.streams])
        player.play()
        assert player.wait(120.0), "replay did not finish"
        assert player.error is None
        pushed = player.pushed()
        try:
            wait_for(lambda: all(r.samples >= pushed[r.name] for r in recorder.status()), 30.0, "the tail")
        finally:
            recorder.stop()
    return load(out, sync=False), pushed


@pytest.mark.parametrize("name", REPLAYED)
def test_replay_delivers_every_sample_pyxdf_reads(xdf_files, name, tmp_path):
    path = get(xdf_files, name)
    original = {k: s for k, s in load(path, sync=False).items() if len(s["time_stamps"])}
    back, pushed = replay_back(path, tmp_path / "back.xdf", speed=4.0)
    assert set(back) == set(original)
    for stream_name, s in original.items():
        b = back[stream_name]
        assert pushed[stream_name] == len(b["time_stamps"]) == len(s["time_stamps"]), stream_name
        assert same_values(b["time_series"], s["time_series"]), stream_name
        rate = float(s["info"]["nominal_srate"][0])
        assert float(b["info"]["nominal_srate"][0]) == pytest.approx(rate * 4.0), stream_name
        # the replay keeps the relative timing (scaled by the speed) within a millisecond or two; compared
        # on the sender's clock, so across a sender clock reset only the steps inside each segment
        got = np.diff(b["time_stamps"]) * 4.0
        want = np.diff(s["time_stamps"])
        inside = (want >= 0) & (want < 1.0)
        assert np.max(np.abs(got - want)[inside], initial=0.0) < 2e-3, stream_name
    if name == "clock_reset":  # across the reset: the recorder clock's 1.02 s (6009.98 -> 6011.00), at x4
        gap = np.diff(back[next(k for k in back if k.endswith("ResetEEG"))]["time_stamps"]) * 4.0
        assert gap.max() == pytest.approx(1.02, abs=2e-3)


@pytest.mark.parametrize("start", [1.05, 2.05])
def test_replay_from_a_start_with_implicit_first_stamps(xdf_files, start, tmp_path):
    path = xdf_files["implicit_and_empty"]
    original = {k: s for k, s in load(path).items() if len(s["time_stamps"])}
    t0 = min(s["time_stamps"][0] for s in original.values())
    back, _ = replay_back(path, tmp_path / "back.xdf", speed=2.0, start=start)
    for stream_name, s in original.items():
        keep = s["time_stamps"] - t0 >= start
        assert 0 < keep.sum() < len(keep)
        b = back[stream_name]
        assert len(b["time_stamps"]) == keep.sum(), stream_name
        want = [v for v, k in zip(s["time_series"], keep) if k]
        assert same_values(b["time_series"], want), stream_name


def test_replay_cli_keeps_outlets_until_the_tail_is_recorded(xdf_files, tmp_path):
    path = xdf_files["minimal"]
    names = [s.name for s in build_index(path).streams.values()]
    proc = subprocess.Popen([sys.executable, "main.py", "replay", str(path), "--lead-in", "6"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        recorder = start_recorder(tmp_path / "tail.xdf", names)
        _, err = proc.communicate(timeout=120)
        recorder.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    back = load(tmp_path / "tail.xdf", sync=False)
    original = load(path, sync=False)
    for stream_name in names:
        assert len(back[stream_name]["time_stamps"]) == 9, stream_name
        assert same_values(back[stream_name]["time_series"], original[stream_name]["time_series"])


# -- repair --------------------------------------------------------------------------
def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_repaired(damaged: Path, fixed: Path) -> None:
    """``fixed`` loads with pyxdf, a footer per stream, and holds what pyxdf reads from ``damaged``."""
    before = load(damaged, sync=False)
    after = load(fixed, sync=False)
    assert set(after) == set(before)
    for stream_name, s in after.items():
        footer = s["footer"]["info"]
        assert int(float(footer["sample_count"][0])) == len(s["time_stamps"]), stream_name
        if len(s["time_stamps"]):
            assert float(footer["first_timestamp"][0]) == s["time_stamps"][0]
            assert float(footer["last_timestamp"][0]) == s["time_stamps"][-1]
        np.testing.assert_array_equal(s["time_stamps"], before[stream_name]["time_stamps"])
        assert same_values(s["time_series"], before[stream_name]["time_series"]), stream_name
        assert s["clock_times"] == before[stream_name]["clock_times"]
    index = build_index(fixed)
    assert not index.problems and not index.truncated


@pytest.mark.parametrize("name", REPAIRED)
def test_repair_damaged_files(xdf_files, name, tmp_path):
    path = get(xdf_files, name)
    digest = sha256(path)
    report = repair(path, tmp_path / "fixed.xdf")
    assert sha256(path) == digest  # the input is never changed
    assert_repaired(path, tmp_path / "fixed.xdf")
    assert report.index.truncated or report.index.problems
    text = "\n".join(report.lines())
    assert str(path) in text


def test_repair_a_recording_killed_mid_session(tmp_path, unique):
    """kill -9 of ``main.py record``: no footers; repair gives them back, with every sample on disk."""
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(f"{unique}Crash", "EEG", 3, 200.0, "float32", f"{unique}-c"))
    markers = pylsl.StreamOutlet(pylsl.StreamInfo(f"{unique}CrashMk", "Markers", 1, 0.0, "string", f"{unique}-m"))
    stop = threading.Event()

    def push() -> None:
        n = 0
        while not stop.is_set():
            outlet.push_chunk(np.arange(n * 3, (n + 20) * 3, dtype=np.float32).reshape(20, 3).tolist())
            markers.push_sample([f"m{n}"])
            n += 20
            time.sleep(0.1)

    pusher = threading.Thread(target=push, daemon=True)
    pusher.start()
    crashed = tmp_path / "crashed.xdf"
    proc = subprocess.Popen([sys.executable, "main.py", "record", "--out", str(crashed), "--markers", "off",
                             "--query", f"starts-with(name,'{unique}Crash')", "--wait", "2"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def enough_on_disk() -> bool:
            if not crashed.exists() or crashed.stat().st_size < 100:
                return False
            counts = [s.sample_count for s in build_index(crashed).streams.values()]
            return len(counts) == 2 and min(counts) >= 10
        wait_for(enough_on_disk, 60.0, "samples on disk")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert not any(s.footer for s in build_index(crashed).streams.values())
    digest = sha256(crashed)
    run = subprocess.run([sys.executable, "main.py", "repair", str(crashed)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    fixed = tmp_path / "crashed_repaired.xdf"
    assert "copying: 100%" in run.stderr and "footers recomputed for 2 stream(s)" in run.stderr
    assert sha256(crashed) == digest
    assert_repaired(crashed, fixed)
    mine = load(fixed, sync=False)[f"{unique}Crash"]["time_series"]
    first = mine.ravel()[0]  # the recording joined the pushing stream late; from there on nothing is missing
    np.testing.assert_array_equal(mine.ravel(), np.arange(first, first + mine.size, dtype=np.float32))

    # never overwrites: a second repair to the same place, or onto the input, is refused
    fixed_digest = sha256(fixed)
    again = subprocess.run([sys.executable, "main.py", "repair", str(crashed)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "already exists" in again.stderr and sha256(fixed) == fixed_digest
    onto = subprocess.run([sys.executable, "main.py", "repair", str(crashed), "--out", str(crashed)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert onto.returncode == 2 and "never modifies the input" in onto.stderr and sha256(crashed) == digest


def test_repair_of_a_file_that_is_not_xdf(tmp_path):
    notes = tmp_path / "notes.xdf"
    notes.write_text("hello")
    run = subprocess.run([sys.executable, "main.py", "repair", str(notes), "--out", str(tmp_path / "o.xdf")],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and f"{notes}: not an XDF file" in run.stderr
    assert not (tmp_path / "o.xdf").exists()

