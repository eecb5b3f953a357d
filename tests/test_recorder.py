"""The recorder against real LSL outlets on loopback, read back with pyxdf."""
from __future__ import annotations

import time

import numpy as np
import pylsl
import pytest

from acquisition.discovery import resolve
from acquisition.recorder import Recorder
from tests.support import streams_by_name

FORMATS = {
    "float32": (pylsl.cf_float32, np.float32),
    "double64": (pylsl.cf_double64, np.float64),
    "int8": (pylsl.cf_int8, np.int8),
    "int16": (pylsl.cf_int16, np.int16),
    "int32": (pylsl.cf_int32, np.int32),
    "int64": (pylsl.cf_int64, np.int64),
}


def outlet(name: str, fmt, channels: int = 3, rate: float = 100.0, source_id: str = "") -> pylsl.StreamOutlet:
    info = pylsl.StreamInfo(name, "Test", channels, rate, fmt, source_id or name)
    return pylsl.StreamOutlet(info)


def start_recorder(path, unique: str, expected: int) -> Recorder:
    query = [f"starts-with(name,'{unique}')"]
    found = []
    deadline = time.monotonic() + 60
    while len(found) < expected and time.monotonic() < deadline:
        found = resolve(query, wait=1.0)
    assert len(found) == expected, f"resolved {len(found)} of {expected} test streams"
    recorder = Recorder(path, query, resolve_interval=0.2)
    recorder.start(found)
    for reader in recorder.readers.values():
        assert reader.opened.wait(60)  # inlets subscribed before the first push
    return recorder


load = streams_by_name


def test_every_numeric_format_round_trips_exactly(tmp_path, unique):
    rng = np.random.default_rng(0)
    outlets, sent = {}, {}
    for fmt, (cf, _dtype) in FORMATS.items():
        outlets[fmt] = outlet(f"{unique}_{fmt}", cf)
    path = tmp_path / "formats.xdf"
    recorder = start_recorder(path, unique, len(FORMATS))
    base = pylsl.local_clock()
    for fmt, (_, dtype) in FORMATS.items():
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            data = rng.integers(info.min, info.max, size=(250, 3), dtype=dtype, endpoint=True)
        else:
            data = rng.normal(0, 1e3, size=(250, 3)).astype(dtype)
        stamps = base + np.arange(250) * 0.01 + rng.uniform(0, 1e-3, 250)  # raw, jittered
        for i in range(0, 250, 50):
            outlets[fmt].push_chunk(data[i:i + 50], stamps[i:i + 50].tolist())
        sent[fmt] = (data, stamps)
    time.sleep(0.3)
    recorder.stop()
    got = load(path)
    for fmt, (data, stamps) in sent.items():
        stream = got[f"{unique}_{fmt}"]
        assert stream["info"]["channel_format"][0] == fmt
        assert stream["time_series"].dtype == FORMATS[fmt][1]
        np.testing.assert_array_equal(stream["time_series"], data)
        np.testing.assert_array_equal(stream["time_stamps"], stamps)
        assert int(stream["footer"]["info"]["sample_count"][0]) == 250


def test_string_and_irregular_marker_streams_round_trip(tmp_path, unique):
    markers = outlet(f"{unique}_markers", pylsl.cf_string, channels=1, rate=pylsl.IRREGULAR_RATE)
    multi = outlet(f"{unique}_multi", pylsl.cf_string, channels=2, rate=pylsl.IRREGULAR_RATE)
    path = tmp_path / "markers.xdf"
    recorder = start_recorder(path, unique, 2)
    texts = ["face_onset", "", "é ü 婴儿", '{"event": "response", "value": 63}', "x" * 300]
    stamps = [pylsl.local_clock() + i * 0.37 for i in range(len(texts))]
    for text, stamp in zip(texts, stamps):
        markers.push_sample([text], stamp)
        multi.push_sample([text, f"#{len(text)}"], stamp)
        time.sleep(0.02)
    time.sleep(0.2)
    recorder.stop()
    got = load(path)
    assert got[f"{unique}_markers"]["time_series"] == [[t] for t in texts]
    assert got[f"{unique}_multi"]["time_series"] == [[t, f"#{len(t)}"] for t in texts]
    np.testing.assert_array_equal(got[f"{unique}_markers"]["time_stamps"], stamps)


def test_stop_keeps_everything_pushed_before_it(tmp_path, unique):
    fast = outlet(f"{unique}_fast", pylsl.cf_float32, channels=8, rate=1000.0)
    marks = outlet(f"{unique}_marks", pylsl.cf_string, channels=1, rate=pylsl.IRREGULAR_RATE)
    path = tmp_path / "stop.xdf"
    recorder = start_recorder(path, unique, 2)
    pushed = 0
    start = pylsl.local_clock()
    while pylsl.local_clock() - start < 1.0:
        chunk = np.full((10, 8), pushed, dtype=np.float32)
        fast.push_chunk(chunk, pylsl.local_clock())
        pushed += 10
        time.sleep(0.01)
    marks.push_sample(["last words"])
    recorder.stop()  # immediately after the last push: nothing may be missing (its duration: bench/)
    got = load(path)
    assert len(got[f"{unique}_fast"]["time_stamps"]) == pushed
    assert got[f"{unique}_marks"]["time_series"] == [["last words"]]


def test_late_stream_and_restarted_source_are_both_recorded(tmp_path, unique):
    first = outlet(f"{unique}_early", pylsl.cf_float32, channels=1, rate=50.0, source_id=f"{unique}-dev")
    path = tmp_path / "late.xdf"
    recorder = start_recorder(path, unique, 1)

    def push(out, n, value):
        for _ in range(n):
            out.push_sample([value])
            time.sleep(0.02)

    push(first, 20, 1.0)
    del first  # the device dies ...
    time.sleep(0.5)
    second = outlet(f"{unique}_early", pylsl.cf_float32, channels=1, rate=50.0, source_id=f"{unique}-dev")
    late = outlet(f"{unique}_late", pylsl.cf_int16, channels=2, rate=20.0)
    time.sleep(2.5)  # ... comes back with the same source_id; the inlet recovers; the late one is found
    push(second, 20, 2.0)
    for _ in range(10):
        late.push_sample([7, 8])
        time.sleep(0.02)
    time.sleep(0.3)
    recorder.stop()
    got = load(path)
    values = got[f"{unique}_early"]["time_series"][:, 0]
    assert (values == 1.0).sum() == 20
    assert (values == 2.0).sum() >= 15  # recovery takes a moment; what came after it is there
    assert len(got) == 2, "a restarted source continues its stream instead of adding a new one"
    np.testing.assert_array_equal(got[f"{unique}_late"]["time_series"], np.tile([7, 8], (10, 1)))


def test_a_source_away_while_its_clock_is_measured_is_recorded_on(tmp_path, unique, monkeypatch):
    monkeypatch.setattr("acquisition.reader.CLOCK_OFFSET_INTERVAL", 0.3)  # measure while it is away
    first = outlet(f"{unique}_away", pylsl.cf_float32, channels=1, rate=50.0, source_id=f"{unique}-away")
    path = tmp_path / "away.xdf"
    recorder = start_recorder(path, unique, 1)
    for _ in range(10):
        first.push_sample([1.0])
        time.sleep(0.02)
    time.sleep(0.6)
    del first
    time.sleep(2.0)  # several clock measurements fail while the device is gone
    second = outlet(f"{unique}_away", pylsl.cf_float32, channels=1, rate=50.0, source_id=f"{unique}-away")
    time.sleep(2.5)
    for _ in range(20):
        second.push_sample([2.0])
        time.sleep(0.02)
    time.sleep(0.6)
    rows = recorder.stop()
    assert [r.error for r in rows] == [None]
    values = load(path)[f"{unique}_away"]["time_series"][:, 0]
    assert (values == 1.0).sum() == 10 and (values == 2.0).sum() >= 15


def test_clock_offsets_and_footer_are_written(tmp_path, unique):
    out = outlet(f"{unique}_co", pylsl.cf_double64, channels=1, rate=10.0)
    path = tmp_path / "offsets.xdf"
    recorder = start_recorder(path, unique, 1)
    for i in range(5):
        out.push_sample([float(i)])
    time.sleep(0.3)
    recorder.stop()
    stream = load(path)[f"{unique}_co"]
    footer = stream["footer"]["info"]
    assert int(footer["sample_count"][0]) == 5
    assert float(footer["first_timestamp"][0]) == stream["time_stamps"][0]
    assert float(footer["last_timestamp"][0]) == stream["time_stamps"][-1]
    offsets = stream["clock_values"]
    assert len(offsets) >= 1
    assert all(abs(v) < 0.01 for v in offsets), "same machine: offsets are near zero"


def test_recorder_refuses_to_overwrite(tmp_path):
    path = tmp_path / "taken.xdf"
    path.write_bytes(b"precious")
    recorder = Recorder(path)
    with pytest.raises(FileExistsError):
        recorder.start()
    assert path.read_bytes() == b"precious"
