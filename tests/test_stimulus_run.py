"""Both tasks run headless with the simulated participant, through the real marker bus into XDF.

The chain is the one a lab uses: stimulus window -> sync.client.MarkerClient
(ZeroMQ on 127.0.0.1) -> sync.server.MarkerServer -> acquisition Recorder
(XDF file) -> pyxdf. What arrives is compared with what the run sent, with
the protocol's plan, with the frames the window really swapped, and with the
events TSV written from the same run.
"""
from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import pyxdf
import yaml

from acquisition.recorder import Recorder
from stimulus.events_tsv import read_events_tsv, write_events_tsv
from stimulus.markers import ListSink
from stimulus.participant import SimulatedParticipant
from stimulus.protocol import load_protocol
from stimulus.runner import RunResult, run_protocol
from stimulus.stimuli import StimulusSet
from stimulus.trials import plan
from stimulus.window import StimulusWindow
from sync.client import MarkerClient
from sync.server import MarkerServer

SPEED = 100.0
SIZE = (640, 400)
VISUAL = ("fixation_onset", "face_onset", "face_offset", "rating_onset", "rating_offset", "choice_onset",
          "choice_offset", "feedback_onset", "feedback_offset", "instructions_onset", "instructions_offset",
          "break_onset", "break_offset", "summary_onset", "summary_offset")


@dataclass
class Recorded:
    """One protocol run and everything it left behind."""

    result: RunResult
    xdf: list[dict]  # markers read back from the XDF file: event, seq, fields and "t"
    swaps: list[float]  # every frame swap time of the window
    progress: list[tuple[str, int, int]]
    tsv: Path
    undelivered: list


@pytest.fixture(scope="module")
def window(qapp):
    win = StimulusWindow()
    win.open(windowed=True, size=SIZE)
    yield win
    win.close()


def record_run(protocol_name: str, folder: Path, window: StimulusWindow) -> Recorded:
    tag = f"t{uuid.uuid4().hex[:10]}"
    recorder = Recorder(folder / f"{protocol_name}.xdf", [f"name='{tag}-no-lsl-stream'"])
    recorder.start()
    server = MarkerServer(recorder, "tcp://127.0.0.1:*", relay=False).start()
    client = MarkerClient(server.endpoint, sender_id=tag)
    progress: list[tuple[str, int, int]] = []
    first_frame = len(window.frames)
    try:
        result = run_protocol(protocol_name, client, participant=SimulatedParticipant(seed=3),
                              window=window, speed=SPEED,
                              on_progress=lambda b, n, total: progress.append((b, n, total)))
    finally:
        undelivered = client.close(5.0)
        server.stop()
        recorder.stop()
    streams, _ = pyxdf.load_xdf(str(recorder.path), synchronize_clocks=False, dejitter_timestamps=False)
    stream = next(s for s in streams if s["info"]["name"][0] == f"AttuneMarkers-{tag}")
    xdf = [dict(json.loads(v[0]), t=float(t)) for v, t in zip(stream["time_series"], stream["time_stamps"])]
    tsv = write_events_tsv(folder / f"{protocol_name}_events.tsv", result.markers)
    swaps = [f.swapped for f in window.frames[first_frame:] if f.swapped is not None]
    return Recorded(result, xdf, swaps, progress, tsv, undelivered)


@pytest.fixture(scope="module")
def rating(window, tmp_path_factory) -> Recorded:
    return record_run("infant_face_rating", tmp_path_factory.mktemp("rating"), window)


@pytest.fixture(scope="module")
def training(window, tmp_path_factory) -> Recorded:
    return record_run("emotion_training", tmp_path_factory.mktemp("training"), window)


def by_trial(markers: list[dict]) -> dict[tuple[str, int], list[dict]]:
    out: dict[tuple[str, int], list[dict]] = {}
    for m in markers:
        if "trial" in m:
            out.setdefault((m["block"], m["trial"]), []).append(m)
    return out


def fields_of(m: dict) -> dict:
    return {k: v for k, v in m.items() if k not in ("event", "seq", "t")}


@pytest.mark.parametrize("name", ["rating", "training"])
def test_every_marker_sent_arrives_in_the_xdf_file_exactly(name, request):
    run: Recorded = request.getfixturevalue(name)
    assert run.undelivered == [] and run.result.sink_errors == []
    assert not run.result.aborted
    sent = run.result.markers
    assert len(run.xdf) == len(sent) > 100
    assert [m["seq"] for m in run.xdf] == list(range(1, len(sent) + 1))
    for got, mine in zip(run.xdf, sent):
        assert got["event"] == mine.event
        assert fields_of(got) == mine.fields
        assert got["t"] == mine.timestamp  # the sender's stamp (flip time), untouched


@pytest.mark.parametrize("name", ["rating", "training"])
def test_marker_counts_follow_the_protocol_plan(name, request):
    run: Recorded = request.getfixturevalue(name)
    protocol = run.result.protocol
    plans = plan(protocol, StimulusSet.for_spec(protocol.stimuli))
    n = sum(len(bp.trials) for bp in plans)
    counts = Counter(m["event"] for m in run.xdf)
    screen = "rating" if protocol.task == "rating" else "choice"
    per_trial = ["trial_start", "fixation_onset", "face_onset", "face_offset", f"{screen}_onset", f"{screen}_offset"]
    if protocol.task == "training":
        per_trial += ["feedback_onset", "feedback_offset"]
    for event in per_trial:
        assert counts[event] == n, event
    assert counts["response"] + counts["timeout"] == n
    assert counts["block_start"] == counts["block_end"] == len(plans)
    assert counts["break_onset"] == counts["break_offset"] == len(plans) - 1
    assert counts["protocol_start"] == counts["protocol_end"] == 1
    assert counts["summary_onset"] == (len(plans) if protocol.task == "training" else 0)
    start = next(m for m in run.xdf if m["event"] == "protocol_start")
    assert (start["trials"], start["blocks"], start["seed"], start["speed"]) == (n, len(plans), protocol.seed, SPEED)
    # and the progress hook counted the same trials, in order
    assert run.progress == [(t.block, t.number, n) for bp in plans for t in bp.trials]


@pytest.mark.parametrize("name", ["rating", "training"])
def test_each_trial_has_its_events_in_order_with_their_fields(name, request):
    run: Recorded = request.getfixturevalue(name)
    protocol = run.result.protocol
    stimset = StimulusSet.for_spec(protocol.stimuli)
    files = {f.file: f for f in stimset.items}
    screen = "rating" if protocol.task == "rating" else "choice"
    trials = by_trial(run.xdf)
    assert len(trials) == len(run.result.trials)
    face_error: list[float] = []  # shown minus planned durations, seconds
    fixation_error: list[float] = []
    for ms in trials.values():
        ev = {m["event"]: m for m in ms}
        order = ["trial_start", "fixation_onset", "face_onset", "face_offset", f"{screen}_onset"]
        answer = ev.get("response") or ev["timeout"]
        order += ["response" if "response" in ev else "timeout", f"{screen}_offset"]
        if protocol.task == "training":
            order += ["feedback_onset", "feedback_offset"]
        assert [m["event"] for m in ms] == order
        times = [m["t"] for m in ms]
        assert times == sorted(times)
        face = ev["face_onset"]
        truth = files[face["file"]]  # a real stimulus of the set, named by its file
        assert (face["identity"], face["morph"], face["emotion"]) == (truth.identity, truth.morph, truth.emotion)
        assert ev["trial_start"]["identity"] == face["identity"] and ev["trial_start"]["morph"] == face["morph"]
        x0, y0, x1, y1 = face["face_rect"]  # centred, as tall as the protocol asks
        assert x0 + x1 == pytest.approx(1.0, abs=1e-3) and y0 + y1 == pytest.approx(1.0, abs=1e-3)
        assert y1 - y0 == pytest.approx(protocol.display.face_height, abs=0.01)
        shown = ev["face_offset"]["t"] - face["t"]
        assert shown == pytest.approx(ev["face_offset"]["duration"], abs=1e-5)
        face_error.append(shown - protocol.timing.face / SPEED)
        fixation_error.append(face["t"] - ev["fixation_onset"]["t"] - ev["fixation_onset"]["duration"] / SPEED)
        assert ev[f"{screen}_onset"]["t"] == ev["face_offset"]["t"]
        if "response" in ev:
            assert answer["rt"] == pytest.approx(answer["t"] - ev[f"{screen}_onset"]["t"], abs=1e-5)
            assert 0 < answer["rt"] <= protocol.timing.response_timeout / SPEED
        if protocol.task == "rating" and "response" in ev:
            assert 0.0 <= answer["value"] <= 100.0
        if protocol.task == "training":
            fb = ev["feedback_onset"]
            assert fb["emotion"] == face["emotion"] and fb["file"] == face["file"]
            assert fb["correct"] == (fb["choice"] == face["emotion"])
            if "response" in ev:
                assert answer["choice"] in ("sad", "neutral", "happy")
                assert answer["correct"] == fb["correct"]
    # screens land on schedule: frames are asked for early by the render time, so a few
    # ms either way per trial (a loaded machine adds tails), and close to 0 on the median
    for errors in (face_error, fixation_error):
        assert all(-0.005 < e < 0.1 for e in errors), errors
        assert abs(sorted(errors)[len(errors) // 2]) < 0.003, errors


@pytest.mark.parametrize("name", ["rating", "training"])
def test_visual_onsets_carry_the_frame_swap_time(name, request):
    run: Recorded = request.getfixturevalue(name)
    swaps = set(run.swaps)
    visual = [m for m in run.xdf if m["event"] in VISUAL]
    assert len(visual) > 100
    not_a_swap = [(m["event"], m["t"]) for m in visual if m["t"] not in swaps]
    assert not_a_swap == []


def test_rating_task_ratings_follow_the_morph(rating):
    means = rating.result.mean_rating_by_morph()
    assert len(means) == 9
    values = list(means.values())
    assert values[0] < 20 and values[-1] > 75
    assert values[0] < values[len(values) // 2] < values[-1]
    ends = [m for m in rating.xdf if m["event"] == "block_end"]
    assert all(e["answered"] == e["trials"] for e in ends)


def test_training_staircase_moves_toward_ambiguous_faces(training):
    starts = [m for m in training.xdf if m["event"] == "trial_start"]
    intensities = [m["intensity"] for m in starts if m["category"] != "neutral"]
    assert intensities[0] == 1.0  # starts with the clearest faces
    assert min(intensities) < 0.5  # and a mostly-right participant is led toward the middle
    for s in starts:
        assert s["category"] in ("sad", "neutral", "happy")
        assert s["category"] == ("neutral" if s["morph"] == 0 else "happy" if s["morph"] > 0 else "sad")
    ends = [m for m in training.xdf if m["event"] == "block_end"]
    summaries = training.result.summaries
    assert [e["correct"] for e in ends] == [s.correct for s in summaries]
    assert [e["trials"] for e in ends] == [12, 12]


@pytest.mark.parametrize("name", ["rating", "training"])
def test_events_tsv_matches_the_recorded_markers(name, request):
    run: Recorded = request.getfixturevalue(name)
    rows = read_events_tsv(run.tsv)
    assert list(rows[0].keys())[:8] == ["onset", "duration", "trial_type", "stimulus", "morph_level", "rating",
                                        "response_time", "correct"]
    faces = [r for r in rows if r["trial_type"] == "face"]
    onsets = [m for m in run.xdf if m["event"] == "face_onset"]
    assert len(faces) == len(onsets) == len(run.result.trials)
    answers = {(m["block"], m["trial"]): m for m in run.xdf if m["event"] in ("response", "timeout")}
    offsets = {(m["block"], m["trial"]): m for m in run.xdf if m["event"] == "face_offset"}
    for row, m in zip(faces, onsets):
        key = (m["block"], m["trial"])
        assert float(row["lsl_time"]) == pytest.approx(m["t"], abs=1e-6)
        assert float(row["onset"]) == pytest.approx(m["t"] - run.xdf[0]["t"], abs=1e-6)  # from protocol_start
        assert float(row["duration"]) == pytest.approx(offsets[key]["t"] - m["t"], abs=1e-6)
        assert row["stimulus"] == m["file"]
        assert float(row["morph_level"]) == m["morph"]
        answer = answers[key]
        if answer["event"] == "response":
            assert float(row["response_time"]) == pytest.approx(answer["rt"], abs=1e-6)
            if name == "rating":
                assert float(row["rating"]) == answer["value"]
                assert row["correct"] == "n/a"
            else:
                assert row["response"] == answer["choice"]
                assert row["correct"] == str(int(answer["correct"]))
    responses = [r for r in rows if r["trial_type"] in ("response", "timeout")]
    assert len(responses) == len(answers)
    kinds = Counter(r["trial_type"] for r in rows)
    screen = "rating" if name == "rating" else "choice"
    assert kinds["fixation"] == kinds[screen] == len(onsets)
    assert Path(run.tsv).with_suffix(".json").exists()


def short_protocol(tmp_path: Path, base: str, **changes) -> Path:
    data = yaml.safe_load((Path("configs/protocols") / f"{base}.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    path = tmp_path / f"short_{base}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_participant_who_never_answers_times_out_every_trial(window, tmp_path):
    path = short_protocol(tmp_path, "infant_face_rating", instructions="",
                          blocks=[{"name": "b", "identities": ["A"], "morphs": [-1.0, 0.0, 1.0]}])
    sink = ListSink()
    result = run_protocol(load_protocol(path), sink, participant=SimulatedParticipant(miss_rate=1.0),
                          window=window, speed=SPEED)
    timeouts = sink.events("timeout")
    assert len(timeouts) == len(result.trials) == 3 and sink.events("response") == []
    limit = 6.0 / SPEED  # response_timeout of the protocol at this speed
    onsets = sink.events("rating_onset")
    for t, onset in zip(timeouts, onsets):
        assert t.get("after") == pytest.approx(t.timestamp - onset.timestamp, abs=1e-5)
        assert limit - 0.002 <= t.get("after") < limit + 0.05
    assert all(r.timed_out and r.rating is None for r in result.trials)
    rows = read_events_tsv(write_events_tsv(tmp_path / "ev.tsv", sink.markers))
    assert [r["rating"] for r in rows if r["trial_type"] == "face"] == ["n/a"] * 3
    assert sum(r["trial_type"] == "timeout" for r in rows) == 3


def test_escape_ends_the_run_and_says_so(window, tmp_path, qtbot):
    from PyQt6.QtCore import Qt, QTimer

    path = short_protocol(tmp_path, "infant_face_rating", instructions="")
    sink = ListSink()

    def escape_during_trial_3(_block: str, number: int, _total: int) -> None:
        # pressed once trials run (a timer set before the run fired before any trial on a loaded machine)
        if number == 3:
            QTimer.singleShot(50, lambda: window.press_key(Qt.Key.Key_Escape))

    result = run_protocol(load_protocol(path), sink, participant=SimulatedParticipant(), window=window, speed=20,
                          on_progress=escape_during_trial_3)
    assert result.aborted
    end = sink.events("protocol_end")
    assert len(end) == 1 and end[0].get("aborted") is True
    assert 2 <= len(result.trials) < 36


def test_a_failing_progress_hook_does_not_end_the_session(window, tmp_path):
    path = short_protocol(tmp_path, "infant_face_rating", instructions="",
                          blocks=[{"name": "b", "identities": ["B"], "morphs": [0.0, 0.5]}])

    def broken(block: str, n: int, total: int) -> None:
        raise ZeroDivisionError("display went away")

    result = run_protocol(load_protocol(path), ListSink(), participant=SimulatedParticipant(),
                          window=window, speed=SPEED, on_progress=broken)
    assert len(result.trials) == 2 and not result.aborted
    assert result.sink_errors == ["on_progress: ZeroDivisionError: display went away"] * 2


def test_training_moves_the_simulated_participants_reading_of_ambiguous_faces(window, tmp_path):
    """Pre rating, training, post rating with one participant: ambiguous faces read happier after."""
    rating = load_protocol(short_protocol(tmp_path, "infant_face_rating", instructions="",
                                          breaks={"between_blocks": False},
                                          blocks=[{"name": "r", "morphs": [-0.25, 0.0, 0.25], "repeats": 2}]))
    data = yaml.safe_load(Path("configs/protocols/emotion_training.yaml").read_text(encoding="utf-8"))
    data.update(instructions="", blocks=[{"name": "t", "trials": 16}])
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    training = load_protocol(tmp_path / "train.yaml")
    person = SimulatedParticipant(bias=-3.0, post_bias=2.0, noise=2.0, seed=11)

    def ambiguous_mean(result: RunResult) -> float:
        return result.mean_rating_by_morph()[0.0]

    pre = ambiguous_mean(run_protocol(rating, ListSink(), participant=person, window=window, speed=SPEED))
    run_protocol(training, ListSink(), participant=person, window=window, speed=SPEED)
    post = ambiguous_mean(run_protocol(rating, ListSink(), participant=person, window=window, speed=SPEED))
    assert pre < 50 < post  # slightly negative before, positive after
    assert 2 <= post - pre <= 10  # a shift of a few percent of the scale, as in the study


def test_a_reused_window_is_let_go_after_each_run(window, tmp_path):
    path = short_protocol(tmp_path, "infant_face_rating", instructions="",
                          blocks=[{"name": "b", "identities": ["C"], "morphs": [0.0]}])
    signals = (window.onset, window.rated, window.chosen, window.proceeded, window.abort_requested)
    before = [window.receivers(s) for s in signals]
    for _ in range(3):
        run_protocol(load_protocol(path), ListSink(), participant=SimulatedParticipant(), window=window,
                     speed=SPEED)
    assert [window.receivers(s) for s in signals] == before


def test_a_protocol_on_a_labs_own_image_folder_runs(window, tmp_path):
    from stimulus.stimuli import export_builtin

    export_builtin(tmp_path / "faces" / "lab_set", identities=2, levels=9, size=128)
    path = short_protocol(tmp_path, "infant_face_rating", instructions="",
                          stimuli={"source": "folder", "folder": "faces/lab_set"},  # relative to the file
                          blocks=[{"name": "own", "identities": ["B"], "morphs": [-1.0, 0.0, 1.0]}])
    sink = ListSink()
    result = run_protocol(load_protocol(path), sink, participant=SimulatedParticipant(), window=window,
                          speed=SPEED)
    files = sorted(m.get("file") for m in sink.events("face_onset"))
    assert files == sorted(str(tmp_path / "faces" / "lab_set" / f"B_m{m:+.3f}.png") for m in (-1.0, 0.0, 1.0))
    assert [r.timed_out for r in result.trials] == [False] * 3
