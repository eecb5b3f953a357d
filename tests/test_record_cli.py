"""``main.py record`` as a user runs it: signals, kill -9, and every kind of bad input."""
from __future__ import annotations

import signal

import numpy as np
import pylsl
import pytest

from tests.support import Pusher, attune, load_streams, wait_for_data

load = load_streams


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_recording_with_footers(tmp_path, unique, sig):
    pusher = Pusher(unique)
    pusher.start()
    out = tmp_path / "signal.xdf"
    proc = attune("record", "--out", str(out), "--query", f"name='{unique}'", "--markers", "off")
    wait_for_data(out, proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=10)
    pusher.halt.set()
    assert proc.returncode == 0, stderr
    assert unique in stdout and "saved" in stdout
    (stream,) = load(out)
    footer = stream["footer"]["info"]
    assert int(footer["sample_count"][0]) == len(stream["time_stamps"]) > 0
    values = stream["time_series"][:, 0]
    np.testing.assert_array_equal(np.diff(values), 1.0)  # no hole inside the recording


def test_kill_9_leaves_a_loadable_file_up_to_the_last_second(tmp_path, unique):
    pusher = Pusher(unique)
    pusher.start()
    out = tmp_path / "killed.xdf"
    proc = attune("record", "--out", str(out), "--query", f"name='{unique}'", "--markers", "off")
    wait_for_data(out, proc, min_bytes=50_000)  # a few seconds recorded
    killed_at = pylsl.local_clock()
    proc.kill()
    proc.wait(5)
    pusher.halt.set()
    (stream,) = load(out)
    stamps = stream["time_stamps"]
    assert "footer" not in stream or not stream.get("footer")
    # Everything stamped well before the kill is on disk, without holes. The recorder syncs once
    # a second; the margin here is wider so that a busy machine's late thread cannot break it.
    expected = [s for s in pusher.stamps if stamps[0] <= s <= killed_at - 3.0]
    assert len(expected) > 200
    np.testing.assert_array_equal(stamps[: len(expected)], expected)


def test_duration_and_summary(tmp_path, unique):
    pusher = Pusher(unique)
    pusher.start()
    out = tmp_path / "timed.xdf"
    proc = attune("record", "--out", str(out), "--query", f"name='{unique}'", "--duration", "1.5",
                  "--markers", "off")
    stdout, stderr = proc.communicate(timeout=20)
    pusher.halt.set()
    assert proc.returncode == 0, stderr
    line = next(row for row in stdout.splitlines() if row.startswith(unique))
    assert "500" in line.split()  # nominal rate column
    (stream,) = load(out)
    span = stream["time_stamps"][-1] - stream["time_stamps"][0]
    assert 0 < span < 1.5 + 1.0  # never more than asked for (plus the stop); a busy machine may give less
    np.testing.assert_array_equal(np.diff(stream["time_series"][:, 0]), 1.0)  # and without gaps


def test_bad_predicate_is_refused_before_any_file(tmp_path):
    out = tmp_path / "never.xdf"
    proc = attune("record", "--out", str(out), "--query", "type='GSR", "--markers", "off")
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "type='GSR" in stderr and "bad stream query" in stderr
    assert not out.exists()


def test_unwritable_output_is_refused(tmp_path, unique):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / "sub" / "rec.xdf"
    proc = attune("record", "--out", str(out), "--query", f"name='{unique}'", "--duration", "1",
                  "--markers", "off")
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert str(blocker) in stderr and "cannot create the output folder" in stderr
    assert blocker.read_text() == "not a folder"


def test_existing_file_is_never_overwritten(tmp_path, unique):
    out = tmp_path / "old.xdf"
    out.write_bytes(b"XDF:precious")
    proc = attune("record", "--out", str(out), "--query", f"name='{unique}'", "--duration", "0.5",
                  "--markers", "off")
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "already exists" in stderr
    assert out.read_bytes() == b"XDF:precious"
    proc = attune("record", "--out", str(out), "--query", f"name='{unique}'", "--duration", "0.5",
                  "--markers", "off", "--on-exists", "rename")
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert (tmp_path / "old_old1.xdf").read_bytes() == b"XDF:precious"
    assert out.read_bytes().startswith(b"XDF:") and out.stat().st_size > 12


def test_missing_required_stream_refuses_to_start(tmp_path, unique):
    out = tmp_path / "req.xdf"
    proc = attune("record", "--out", str(out), "--require", f"name='{unique}_absent'", "--markers", "off")
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 3
    assert f"{unique}_absent" in stderr and "--allow-missing" in stderr
    assert not out.exists()


def test_going_on_without_a_required_stream_says_so_at_the_end(tmp_path, unique):
    pusher = Pusher(unique)
    pusher.start()
    out = tmp_path / "partial.xdf"
    proc = attune("record", "--out", str(out), "--query", f"name='{unique}' or name='{unique}_absent'",
                  "--require", f"name='{unique}'", "--require", f"name='{unique}_absent'",
                  "--allow-missing", "--duration", "1", "--markers", "off")
    _, stderr = proc.communicate(timeout=20)
    pusher.halt.set()
    assert proc.returncode == 0, stderr
    assert f"required stream name='{unique}_absent' never appeared" in stderr
    assert f"required stream name='{unique}' never" not in stderr
    assert [s["info"]["name"][0] for s in load(out)] == [unique]


def test_bad_device_config_names_file_and_field(tmp_path):
    config = tmp_path / "devices.yaml"
    config.write_text("eyetracker:\n  rate: 5000\n")
    proc = attune("simulate", "--devices", str(config), "--duration", "0.1")
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert f"{config}: eyetracker.rate: must be at most 1200" in stderr


def test_rename_says_what_was_moved_where(tmp_path, unique):
    out = tmp_path / "rec.xdf"
    out.write_bytes(b"an earlier recording")
    proc = attune("record", "--out", str(out), "--on-exists", "rename", "--duration", "0.5", "--wait", "0.2",
                  "--markers", "off", "--query", f"name='{unique}-nothing'")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert f"{out} already existed: moved it aside to rec_old1.xdf" in stderr
    assert (tmp_path / "rec_old1.xdf").read_bytes() == b"an earlier recording"


def test_two_sources_with_one_source_id_are_reported(tmp_path, unique):
    outlets = [pylsl.StreamOutlet(pylsl.StreamInfo(f"{unique}{n}", "GSR", 1, 10.0, "float32", f"{unique}-dup"))
               for n in ("A", "B")]
    query = f"source_id='{unique}-dup'"
    listing = attune("streams", "--query", query, "--wait", "2")
    out, err = listing.communicate(timeout=60)
    assert out.count(f"source_id='{unique}-dup'") == 2, out
    assert f"2 streams share source_id '{unique}-dup'" in err and f"{unique}A, {unique}B" in err
    rec = attune("record", "--out", str(tmp_path / "dup.xdf"), "--query", query, "--wait", "2",
                 "--duration", "0.5", "--markers", "off")
    _, err = rec.communicate(timeout=60)
    assert rec.returncode == 0, err
    assert f"2 streams share source_id '{unique}-dup'" in err and "only one of them is recorded" in err
    del outlets
