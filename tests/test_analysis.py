"""Analysis: known simulated effects are recovered; bad files give clear messages.

The pure-analysis recordings are written with the XDF writer (tools.synthetic):
ratings from a simulated participant with a known bias, SCRs locked to the
faces at a known latency and emotion-dependent amplitude, gaze on a known
face region. One recording is made in real time from LSL outlets, to check
the whole path from devices and markers through the recorder.

Tolerances (36 faces per recording):
- ratings and reaction times: exactly as sent;
- interpretation bias: within 3.5 rating points (noise SD 5 over 20 mid-range faces: SE 1.1);
- SCR: mean amplitude per emotion within 25 % of the simulated amplitude,
  at least 90 % of faces with a response, median onset latency within
  0.3 s (the zero-phase filter moves onsets about 0.15 s earlier);
- dwell: at least 0.8 s of the 1 s face on the looked-at region in 90 % of faces,
  none on the other region.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest

from acquisition.recorder import Recorder
from acquisition.xdf_writer import XDFWriter
from analysis.recording import AnalysisError, load
from analysis.trials import table
from devices.lab import DeviceConfig, SimulatedLab
from devices.metadata import Channel, stream_info
from stimulus.participant import SimulatedParticipant
from tools.synthetic import synthesise

ROOT = Path(__file__).resolve().parent.parent
AMPLITUDES = {"sad": 0.6, "neutral": 0.25, "happy": 0.4}
PRE_BIAS, POST_BIAS = -6.0, 4.0


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", "analyze", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def number(value: str) -> float:
    return float(value) if value != "" else float("nan")


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, dict]:
    """A participant before (bias -6) and after (bias +4) training, analysed by the CLI."""
    folder = tmp_path_factory.mktemp("study")
    truths = {}
    for phase, bias, seed in (("pre", PRE_BIAS, 1), ("post", POST_BIAS, 2)):
        participant = SimulatedParticipant(bias=bias, post_bias=None, seed=seed)
        truths[phase] = synthesise(folder / f"sub-07_ses-{phase}_task-rating_run-1.xdf", faces=36, iti=5.0,
                                   participant=participant, scr_amplitude=AMPLITUDES, scr_latency=1.8,
                                   seed=10 + seed)
    run = analyze(str(folder), "--out", str(folder / "out"))
    assert run.returncode == 0, run.stderr
    assert "[1/2]" in run.stderr and "[2/2]" in run.stderr  # progress per file
    return folder / "out", truths


def rows_of(out: Path, phase: str) -> list[dict]:
    return read_tsv(out / f"sub-07_ses-{phase}_task-rating_run-1_trials.tsv")


def test_ratings_and_reaction_times_as_sent(study):
    out, truths = study
    for phase, truth in truths.items():
        rows = rows_of(out, phase)
        assert len(rows) == 36
        assert [number(r["morph"]) for r in rows] == truth.morph
        assert [number(r["rating"]) for r in rows] == truth.rating
        assert np.allclose([number(r["rt_s"]) for r in rows], truth.rt, atol=1e-6)
        assert {r["phase"] for r in rows} == {phase}


def test_participant_bias_recovered(study):
    out, _ = study
    gain = SimulatedParticipant().gain
    for phase, bias in (("pre", PRE_BIAS), ("post", POST_BIAS)):
        rows = [r for r in rows_of(out, phase) if abs(number(r["morph"])) <= 0.5]
        residual = [number(r["rating"]) - (50 + 50 * gain * number(r["morph"])) for r in rows]
        assert np.mean(residual) == pytest.approx(bias, abs=3.5), phase
    shift = read_tsv(out / "summary_ambiguous_pre_post.tsv")
    assert len(shift) == 1 and number(shift[0]["change"]) == pytest.approx(POST_BIAS - PRE_BIAS, abs=5.0)


def test_scr_locked_to_faces_recovered(study):
    out, truths = study
    for phase in truths:
        rows = rows_of(out, phase)
        amplitude = np.array([number(r["scr_amplitude_us"]) for r in rows])
        assert np.mean(amplitude > 0) >= 0.9
        latency = np.array([number(r["scr_latency_s"]) for r in rows])
        assert np.nanmedian(latency) == pytest.approx(truths[phase].scr_latency, abs=0.3)
        for emotion, expected in AMPLITUDES.items():
            got = amplitude[[r["emotion"] == emotion for r in rows]]
            assert np.mean(got) == pytest.approx(expected, rel=0.25), (phase, emotion)
    summary = read_tsv(out / "summary_by_emotion.tsv")
    by = {(r["phase"], r["emotion"]): number(r["scr_amplitude_mean_us"]) for r in summary}
    for phase in truths:
        assert by[(phase, "sad")] > by[(phase, "happy")] > by[(phase, "neutral")]


def test_gaze_on_eyes_recovered(study):
    out, _ = study
    rows = rows_of(out, "pre")
    eyes = np.array([number(r["dwell_eyes_s"]) for r in rows])
    assert np.mean(eyes >= 0.8) >= 0.9
    assert all(number(r["dwell_mouth_s"]) == 0 for r in rows)
    assert all(number(r["dwell_face_s"]) >= number(r["dwell_eyes_s"]) for r in rows)


def test_expression_follows_the_face(study):
    out, _ = study
    rows = [r for r in rows_of(out, "pre") if abs(number(r["morph"])) >= 0.5]
    assert all(np.sign(number(r["valence_mean"])) == np.sign(number(r["morph"])) for r in rows)


def test_outputs_and_report(study):
    out, _ = study
    report = (out / "report.md").read_text()
    for name in ("fig_psychometric.png", "fig_ambiguous_positive_pct.png", "fig_scr_by_emotion.png",
                 "fig_dwell_eyes_s.png"):
        assert (out / name).stat().st_size > 0
        assert f"({name})" in report
    for name in ("summary_by_morph.tsv", "summary_by_emotion.tsv", "measures.tsv",
                 "sub-07_ses-pre_task-rating_run-1_trials.tsv"):
        assert (out / name).stat().st_size > 0
    assert "1 participant(s) (all: 1)" in report and (out / "report.html").stat().st_size > 0
    morph = read_tsv(out / "summary_by_morph.tsv")
    assert {r["phase"] for r in morph} == {"pre", "post"} and len(morph) == 18


def test_gaze_on_mouth_lands_in_mouth_region(tmp_path):
    path = tmp_path / "mouth.xdf"
    synthesise(path, faces=9, gaze_region="mouth", iti=0.5)
    rows = table(load(path))
    # the first 50 ms of each face the gaze is still on the fixation cross, between the eyes
    assert all(r["dwell_mouth_s"] >= 0.8 and r["dwell_eyes_s"] < 0.1 for r in rows)


@pytest.mark.parametrize("layout", ["tobii_pro", "pupil_capture"])
def test_vendor_gaze_layouts_give_the_same_dwell(tmp_path, layout):
    path = tmp_path / f"{layout}.xdf"
    synthesise(path, faces=9, gaze_region="mouth", iti=0.5, gaze_layout=layout)
    rec = load(path)
    assert any(layout in note for note in rec.notes), rec.notes
    rows = table(rec)
    assert all(r["dwell_mouth_s"] >= 0.8 and r["dwell_eyes_s"] < 0.1 for r in rows)
    assert all(r["gaze_valid_fraction"] > 0.9 for r in rows)


def test_truncated_file_analysed_up_to_its_end(tmp_path):
    path = tmp_path / "sub-03_task-rating.xdf"
    synthesise(path, faces=18, iti=0.5)
    data = path.read_bytes()
    cut = tmp_path / "sub-03_task-ratingcut.xdf"
    cut.write_bytes(data[: len(data) // 2 + 3])
    rec = load(cut)
    assert rec.truncated and any("cut off" in note for note in rec.notes)
    rows = table(rec)
    assert 5 <= len(rows) < 18
    assert rows[-1]["face_onset_s"] < load(path).end_time - load(path).markers[0][0]
    run = analyze(str(cut), "--out", str(tmp_path / "out"))
    assert run.returncode == 0 and "cut off" in run.stderr


def test_bad_files_named_with_what_is_missing(tmp_path):
    not_xdf = tmp_path / "notes.xdf"
    not_xdf.write_text("not a recording")
    with pytest.raises(AnalysisError, match="not an XDF file"):
        load(not_xdf)
    no_markers = tmp_path / "gsr_only.xdf"
    writer = XDFWriter(no_markers)
    info = stream_info("SimGSR", "GSR", [Channel("skin_conductance", "microsiemens", "GSR")], 128.0, "float32", "g")
    writer.add_stream(1, info.as_xml(), "float32", 128.0)
    writer.write_samples(1, np.arange(128) / 128.0, np.ones((128, 1), dtype=np.float32))
    writer.close()
    with pytest.raises(AnalysisError, match=r"missing marker stream.*SimGSR \(GSR\)"):
        load(no_markers)
    run = analyze(str(not_xdf), str(no_markers), "--out", str(tmp_path / "out"))
    assert run.returncode == 2
    assert f"{not_xdf}: not an XDF file" in run.stderr and "missing marker stream" in run.stderr
    missing = analyze(str(tmp_path / "nowhere.xdf"), "--out", str(tmp_path / "out"))
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_live_recording_from_lsl_outlets(tmp_path, unique):
    """Real outlets: SCRs triggered at each face onset, JSON markers, ratings from a biased participant."""
    lab = SimulatedLab([DeviceConfig("gsr", 128, f"{unique}GSR", f"{unique}-gsr", 5),
                        DeviceConfig("eyetracker", 300, f"{unique}Eye", f"{unique}-eye", 6)])
    lab.gsr.spontaneous_per_sample = 0.0  # only the face-locked responses
    marker_info = stream_info(f"{unique}Markers", "Markers", [Channel("marker", "", "Marker")],
                              pylsl.IRREGULAR_RATE, "string", f"{unique}-markers")
    outlet = pylsl.StreamOutlet(marker_info)
    lab.start()
    participant = SimulatedParticipant(bias=-5.0, post_bias=None, seed=3)
    sent = []
    path = tmp_path / "sub-09_task-rating.xdf"
    predicate = f"starts-with(name,'{unique}')"
    try:
        found = pylsl.resolve_bypred(predicate, 3, 5.0)
        assert len(found) == 3
        recorder = Recorder(path, [predicate])
        recorder.start(found)
        for reader in recorder.readers.values():
            assert reader.opened.wait(60.0)
        seq = 0
        time.sleep(0.5)  # some signal before the first face, for the filter

        def mark(event: str, **fields) -> float:
            nonlocal seq
            seq += 1
            now = pylsl.local_clock()
            outlet.push_sample([json.dumps({"event": event, "seq": seq, **fields})], now)
            return now

        for i, morph in enumerate((-0.5, 0.0, 0.75)):
            mark("face_onset", block="b", trial=i, identity="A", morph=morph, emotion="x", file="f")
            lab.gsr.respond(1.5, 0.5)
            answer = participant.rate(morph)
            time.sleep(1.0)
            mark("face_offset", block="b", trial=i, duration=1.0)
            mark("response", block="b", trial=i, value=answer.rating, rt=round(answer.rt, 3))
            sent.append(answer.rating)
            time.sleep(6.5)  # SCRs decay over several seconds: apart enough that each starts near baseline
        time.sleep(1.0)
        recorder.stop()
    finally:
        lab.stop()
        outlet = None  # closes the outlet
    rows = table(load(path))
    assert [r["rating"] for r in rows] == sent
    amplitude = np.array([r["scr_amplitude_us"] for r in rows])
    latency = np.array([r["scr_latency_s"] for r in rows])
    assert np.all(amplitude == pytest.approx(0.5, rel=0.3))
    assert np.all(np.abs(latency - 1.5) < 0.4)
    assert all(0 <= r["gaze_valid_fraction"] <= 1 for r in rows)


def test_a_training_session_is_its_own_phase_and_stays_out_of_the_rating_curve():
    from analysis.summary import assign_phases, by_morph

    def row(session: str, morph: float, rating) -> dict:
        return {"participant": "p1", "session": session, "task": "rating" if session != "training" else "training",
                "morph": morph, "rating": rating, "rt_s": 1.0}

    rows = [row("pre", 0.0, 45.0), row("training", 0.4286, ""), row("post", 0.0, 52.0)]
    assign_phases(rows)
    assert [r["phase"] for r in rows] == ["pre", "training", "post"]
    curve = by_morph(rows)
    assert [(c["phase"], c["rating_mean"]) for c in curve] == [("post", 52.0), ("pre", 45.0)]
