"""Replay: a recording of simulated devices is replayed and recorded again.

The re-recording must hold the same samples with the same relative timing
(within 1 ms) and the same stream metadata; speed, start, pause, seek and
loop must do what they say; damaged files give clear messages.
"""
from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pylsl
import pytest
import pyxdf

from acquisition.player import SPEED_RANGE, Player
from acquisition.recorder import Recorder
from acquisition.xdf_index import ChunkReader, XDFError, build_index
from devices.lab import DeviceConfig, SimulatedLab
from tests.support import wait_for

ROOT = Path(__file__).resolve().parent.parent
RECORD_SECONDS = 2.5


STREAMS = 5  # gaze, GSR, webcam frames, expression, markers


def record(path: Path, prefix: str, seconds: float | None = None, player: Player | None = None) -> None:
    """Record every stream whose name starts with ``prefix``; for a player, until it finishes."""
    predicate = f"starts-with(name,'{prefix}')"
    found: dict[str, pylsl.StreamInfo] = {}
    deadline = time.monotonic() + 10.0
    while len(found) < STREAMS and time.monotonic() < deadline:  # a busy machine can miss a reply
        found.update((info.source_id(), info) for info in pylsl.resolve_bypred(predicate, STREAMS, 2.0))
    assert len(found) == STREAMS, sorted(found)
    found = list(found.values())
    recorder = Recorder(path, [predicate])
    recorder.start(found)
    for reader in recorder.readers.values():
        assert reader.opened.wait(5.0)
    if player is not None:
        player.play()
        assert player.wait(30.0), "replay did not finish"
        time.sleep(0.3)
    else:
        time.sleep(seconds)
    recorder.stop()


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> tuple[Path, str]:
    """A few seconds of every simulated device: gaze, GSR, webcam frames, expression, markers."""
    prefix = f"rp{uuid.uuid4().hex[:8]}"
    configs = [DeviceConfig("eyetracker", 300, f"{prefix}Eye", f"{prefix}-eye", 1),
               DeviceConfig("gsr", 128, f"{prefix}GSR", f"{prefix}-gsr", 2),
               DeviceConfig("webcam", 30, f"{prefix}Cam", f"{prefix}-cam", 3, {"expression": True}),
               DeviceConfig("markers", 8, f"{prefix}Mark", f"{prefix}-mark", 4)]
    lab = SimulatedLab(configs)
    lab.start()
    path = tmp_path_factory.mktemp("replay") / "original.xdf"
    try:
        record(path, prefix, RECORD_SECONDS)
    finally:
        lab.stop()
    return path, prefix


def load(path: Path) -> tuple[dict[str, dict], float]:
    """Streams by name, and the first time stamp over all of them (session time zero)."""
    streams, _ = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    by_name = {s["info"]["name"][0]: s for s in streams}
    t0 = min(s["time_stamps"][0] for s in streams if len(s["time_stamps"]))
    return by_name, t0


def values_equal(a, b) -> bool:
    if isinstance(a, list):
        return a == b
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def test_index_decodes_what_pyxdf_reads(original):
    path, _ = original
    index = build_index(path)
    assert not index.truncated
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False, dejitter_timestamps=False)
    with ChunkReader(path) as reader:
        for s in streams:
            entry = index.streams[int(s["info"]["stream_id"])]
            parts = [reader.decode(entry, k) for k in range(entry.chunk_count)]
            stamps = np.concatenate([p[0] for p in parts])
            np.testing.assert_array_equal(stamps, s["time_stamps"])
            if entry.channel_format == "string":
                assert [v for p in parts for v in p[1]] == s["time_series"]
            else:
                np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), s["time_series"])


def test_replay_rerecorded_equals_original(original, tmp_path):
    path, prefix = original
    with Player(path) as player:
        assert {s.type for s in player.streams} >= {"Gaze", "GSR", "VideoFrames", "FacialExpression", "Markers"}
        player.open()
        copy = tmp_path / "replay.xdf"
        record(copy, prefix, player=player)
    a, ta = load(path)
    b, tb = load(copy)
    assert set(a) == set(b)
    for name, sa in a.items():
        sb = b[name]
        assert len(sb["time_stamps"]) == len(sa["time_stamps"]) > 0, name
        assert values_equal(sa["time_series"], sb["time_series"]), name
        error = (sb["time_stamps"] - tb) - (sa["time_stamps"] - ta)
        assert np.max(np.abs(error)) < 1e-3, f"{name}: timing differs by {np.max(np.abs(error)) * 1e3:.3f} ms"
        ia, ib = sa["info"], sb["info"]
        for key in ("name", "type", "channel_count", "channel_format", "nominal_srate"):
            assert ia[key] == ib[key], (name, key)
        # told apart from the live source, with the original kept beside the file it came from
        assert ib["source_id"] == [ia["source_id"][0] + "@replay"], name
        replay = ib["desc"][0].pop("replay")
        assert replay == [{"file": [path.name], "source_id": ia["source_id"]}], name
        assert (ia["desc"][0] or {}) == (ib["desc"][0] or {}), name


def test_speed_and_start(original, tmp_path):
    path, prefix = original
    speed, start = 4.0, 1.0
    with Player(path, speed=speed, start=start) as player:
        player.open()
        copy = tmp_path / "fast.xdf"
        record(copy, prefix, player=player)  # how long replay takes is a figure for bench/bench_replay.py
    a, ta = load(path)
    b, _ = load(copy)
    tb = min(s["time_stamps"][0] for s in b.values())
    kept = {name: sa["time_stamps"][sa["time_stamps"] - ta >= start - 1e-9] for name, sa in a.items()}
    first_kept = min(stamps[0] for stamps in kept.values() if len(stamps))
    for name, stamps in kept.items():
        sb = b[name]
        assert len(sb["time_stamps"]) == len(stamps), name
        expected = (stamps - first_kept) / speed
        got = sb["time_stamps"] - tb
        assert np.max(np.abs(got - expected)) < 1e-3, name


def test_pause_seek_loop_position(original):
    path, _ = original
    with Player(path, ["Gaze"], speed=2.0) as player:
        assert [s.type for s in player.streams] == ["Gaze"]
        assert player.state == "stopped" and player.position == 0.0
        player.play()
        wait_for(lambda: player.position > 0.2)
        player.pause()
        held = player.position
        assert 0.2 < held < player.duration and player.state == "paused"
        time.sleep(0.2)  # paused: the position must not move, however busy the machine
        assert player.position == held
        player.seek(2.0)
        assert player.position == 2.0
        player.loop = True
        player.play()
        wait_for(lambda: player.laps >= 1)
        assert player.state == "playing"
        player.loop = False
        assert player.wait(60.0)
        assert player.state == "finished" and player.position == pytest.approx(player.duration)
        assert player.error is None


def test_truncated_file_replays_to_its_end(original, tmp_path):
    path, _ = original
    data = path.read_bytes()
    cut = tmp_path / "cut.xdf"
    cut.write_bytes(data[: len(data) * 2 // 3 + 5])
    index = build_index(cut)
    assert index.truncated
    with Player(cut, speed=10.0) as full_length, Player(path) as reference:
        assert 0 < full_length.duration < reference.duration
        full_length.play()
        assert full_length.wait(60.0)
        assert full_length.error is None


def test_bad_inputs_give_clear_messages(original, tmp_path):
    path, _ = original
    not_xdf = tmp_path / "notes.xdf"
    not_xdf.write_text("hello")
    with pytest.raises(XDFError, match="not an XDF file"):
        Player(not_xdf)
    with pytest.raises(ValueError, match="no stream named or typed 'EEG'"):
        Player(path, ["EEG"])
    with pytest.raises(ValueError, match="speed"):
        Player(path, speed=0.0)
    run = subprocess.run([sys.executable, "main.py", "replay", str(not_xdf)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and f"{not_xdf}: not an XDF file" in run.stderr
    lo, hi = SPEED_RANGE  # the command line accepts exactly the player's range
    for speed, accepted in ((hi, True), (hi * 1.5, False), (lo / 2, False)):
        run = subprocess.run([sys.executable, "main.py", "replay", str(path), "--speed", str(speed), "--lead-in", "0",
                              "--linger", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert (run.returncode == 0) == accepted, run.stderr
        assert accepted or f"within {lo}..{hi}" in run.stderr


def test_cli_replays_with_progress(original):
    path, _ = original
    run = subprocess.run([sys.executable, "main.py", "replay", str(path), "--speed", "10", "--lead-in", "0",
                          "--stream", "GSR"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "publishing" in run.stderr and "GSR" in run.stderr
    assert "/ 00:0" in run.stderr and "replayed" in run.stderr
