"""XDF files from the real world: the index, replay and repair against pyxdf's reading of each file.

Files: the generator in tests/xdf_samples.py (sender clock reset, chunks
starting on an implicit stamp, empty streams, damaged copies) and
recordings written by the real LabRecorderCLI (the ``labrecorder`` wheel).
For each: every stream, every sample count and every value the index
decodes equals pyxdf's; a replay recorded back through LSL by the
project's recorder holds every sample pyxdf reads.
"""
from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pyxdf
import xdf_samples

from acquisition.player import Player
from acquisition.xdf_index import ChunkReader, build_index
from tests.support import streams_by_name

ROOT = Path(__file__).resolve().parent.parent
logging.getLogger("pyxdf").setLevel(logging.CRITICAL)  # pyxdf logs the damage we make on purpose



def load(path: Path, sync: bool = False) -> dict[str, dict]:
    return streams_by_name(path, sync)


FILES = ["minimal", "clock_reset", "implicit_and_empty", "labrecorder", "labrecorder_cut",
         *(f"damaged_{k}" for k in ("intact", "cut", "length_plus_3", "length_minus_3", "bad_width_byte",
                                    "garbage_inserted", "huge_length"))]


def get(xdf_files: dict[str, Path], name: str) -> Path:
    if name not in xdf_files:
        pytest.skip(f"LabRecorderCLI binary missing: {xdf_samples.LABRECORDER_MISSING}")
    return xdf_files[name]


@pytest.mark.parametrize("name", FILES)
def test_index_decodes_what_pyxdf_reads(xdf_files, name):
    path = get(xdf_files, name)
    index = build_index(path)
    streams = load(path)
    assert {s.name for s in index.streams.values()} == set(streams)
    with ChunkReader(path) as reader:
        for stream_name, s in streams.items():
            entry = index.streams[int(s["info"]["stream_id"])]
            parts = [reader.decode(entry, k) for k in range(entry.chunk_count)]
            stamps = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
            assert len(stamps) == len(s["time_stamps"]) == entry.sample_count, stream_name
            np.testing.assert_array_equal(stamps, s["time_stamps"], err_msg=stream_name)
            if entry.channel_format == "string":
                assert [v for p in parts for v in p[1]] == s["time_series"], stream_name
            elif parts:
                np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), s["time_series"])


def test_generated_files_have_what_they_claim(xdf_files):
    reset = build_index(xdf_files["clock_reset"])
    assert all(len(s.segments) == 2 and set(s.chunk_segments) == {0, 1} for s in reset.streams.values())
    implicit = build_index(xdf_files["implicit_and_empty"])
    raw = xdf_files["implicit_and_empty"].read_bytes()
    starts = [raw[o + 4 + 2] for o in implicit.streams[1].offsets]  # the first stamp byte of each chunk
    assert starts == [8, 0, 8, 0, 8, 0]
    assert [s.sample_count for s in implicit.streams.values()] == [30, 30, 0, 0]
    if "labrecorder" in xdf_files:  # LabRecorder itself starts chunks on an implicit stamp
        lab = build_index(xdf_files["labrecorder"])
        raw = xdf_files["labrecorder"].read_bytes()
        num = next(s for s in lab.streams.values() if s.type == "EEG" and s.sample_count)
        assert any(raw[o + 4 + 5] == 0 for o in num.offsets)  # LabRecorder writes a 4-byte sample count


def pyxdf_maps_clock_resets() -> bool:
    """pyxdf before 1.17 applies reset segments by measurement index to samples (wrong); 1.17 fixed it."""
    return tuple(int(part) for part in pyxdf.__version__.split(".")[:2]) >= (1, 17)


def test_clock_reset_span_is_the_recorder_clock_span(xdf_files):
    # the generator's truth: recorder time 6000.00-6010.98 s before the reset, 6011.00-6020.98 s after
    with Player(xdf_files["clock_reset"]) as player:
        assert player.duration == pytest.approx(20.98, abs=0.01)
    if pyxdf_maps_clock_resets():
        streams = load(xdf_files["clock_reset"], sync=True)
        stamps = [s["time_stamps"] for s in streams.values()]
        assert max(t[-1] for t in stamps) - min(t[0] for t in stamps) == pytest.approx(20.98, abs=0.01)


@pytest.mark.parametrize("name,expected", [
    ("damaged_cut", None),
    ("damaged_length_plus_3", "the chunk length field says"),
    ("damaged_length_minus_3", "the chunk length field says"),
    ("damaged_bad_width_byte", "bad length-width byte 3"),
    ("damaged_garbage_inserted", "bad length-width byte 255"),
    ("damaged_huge_length", "says 1099511627776 bytes"),
])
def test_damage_is_named_and_read_past(xdf_files, name, expected):
    index = build_index(xdf_files[name])
    intact = build_index(xdf_files["damaged_intact"])
    assert not intact.problems and not intact.truncated
    if expected is None:
        assert index.truncated and not index.problems
        return
    assert not index.truncated  # a huge or wrong length with data after it is damage, not a cut
    assert any(expected in p for p in index.problems), index.problems
    assert str(xdf_files[name]) in index.summary()
    last = {s.name: s.last_stamp for s in intact.streams.values()}
    for s in index.streams.values():  # read on to the end of the file, past the damage
        assert s.last_stamp == last[s.name], s.name


def test_analysis_of_huge_length_does_not_claim_a_cut(xdf_files):
    from analysis.recording import load as load_recording

    rec = load_recording(xdf_files["damaged_huge_length"])
    assert not rec.truncated and not any("cut off" in note for note in rec.notes)
    assert any("damaged_huge_length" in note and "says 1099511627776 bytes" in note for note in rec.notes)


def test_replay_cli_warns_about_damage(xdf_files):
    path = xdf_files["damaged_bad_width_byte"]
    run = subprocess.run([sys.executable, "main.py", "replay", str(path), "--speed", "10", "--lead-in", "0",
                          "--linger", "0"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"warning: {path}: damaged or unreadable parts skipped" in run.stderr
    assert "bad length-width byte 3" in run.stderr
    assert "GSR): 64 of the 512 samples its footer counts are in the skipped parts" in run.stderr


def header_file(path: Path, xml: str, samples: bytes = b"") -> Path:
    b = xdf_samples.Built().header()
    b.add(xdf_samples.stream_header_chunk(7, xml), 2, 7)
    b.stream(8, "Good", "EEG", 1, 10.0, "float32").samples(8, "float32", [1.0, 1.1], [[1.0], [2.0]])
    b.data += samples
    return b.write(path)


def test_header_errors_name_file_and_stream(tmp_path):
    rate = header_file(tmp_path / "rate.xdf", xdf_samples.stream_info_xml("BadRate", "EEG", 1, 10.0, "float32").replace(
        "<nominal_srate>10.0<", "<nominal_srate>fast<"))
    broken = header_file(tmp_path / "xml.xdf", "<info><name>Broken</name><type>")
    count = xdf_samples.Built().header().stream(7, "Wide", "EEG", 2, 10.0, "float32")
    count.samples(7, "float32", [1.0], [[1.0, 2.0, 3.0]]).boundary()  # 3 values per sample, header says 2
    count.stream(8, "Good", "EEG", 1, 10.0, "float32").samples(8, "float32", [1.0], [[5.0]])
    count = count.write(tmp_path / "count.xdf")
    for path, expected in ((rate, "stream 7 (BadRate): nominal_srate 'fast' is not a number"),
                           (broken, "stream 7: header XML is not readable"),
                           (count, "stream 7 (Wide): a Samples chunk of 1 samples in 21 bytes does not fit 2 "
                                   "float32 channel(s)")):
        index = build_index(path)
        assert any(p.startswith(f"{path}: {expected}") or expected in p for p in index.problems), index.problems
        assert str(path) in index.summary()
        assert [s.name for s in index.streams.values() if s.sample_count] == ["Good"]  # the rest is read
    with pytest.raises(ValueError, match=r"no stream named or typed 'BadRate'(.|\n)*nominal_srate 'fast'"):
        Player(rate, ["BadRate"])


def test_file_header_datetime_parses_like_mne_readers(xdf_files):
    _, header = pyxdf.load_xdf(str(xdf_files["minimal"]))
    text = header["info"]["datetime"][0]
    assert text[-5] in "+-" and text[-3] != ":"  # +0000, as LabRecorder writes %FT%T%z
    # mnelab / mne-xdf: insert a colon before the last two characters, then fromisoformat
    parsed = dt.datetime.fromisoformat(text[:-2] + ":" + text[-2:])
    assert parsed.tzinfo is not None and abs(parsed - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(days=1)
    if "labrecorder" in xdf_files:
        _, lab = pyxdf.load_xdf(str(xdf_files["labrecorder"]))
        lab_text = lab["info"]["datetime"][0]
        assert len(lab_text) == len(text) and lab_text[-5] == text[-5]
