"""Live biofeedback in training, driven by real LSL outlets with scripted samples.

Gaze, expression and skin conductance come from real outlets on loopback
whose samples a script decides (look off the face, look where the cue is,
smile, stall); the training runs in the real stimulus window offscreen with
the simulated participant. Reactions happen on the markers themselves (a cue
appears -> the gaze moves there), so nothing waits on the wall clock.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pylsl
import pytest
import yaml

from analysis import regions
from devices.eyetracker import CHANNELS as GAZE_CHANNELS
from devices.gaze_layouts import recognise
from devices.metadata import Channel, stream_info
from stimulus import scenes
from stimulus.feedback import region_box
from stimulus.markers import Marker
from stimulus.participant import SimulatedParticipant
from stimulus.protocol import Display, load_protocol
from stimulus.runner import RunResult, run_protocol
from stimulus.window import StimulusWindow

SIZE = (640, 400)
OFF_FACE = (0.04, 0.06)


class Scripted(threading.Thread):
    """Real LSL outlets (gaze 120 Hz, expression 30 Hz, GSR 32 Hz) whose values the test sets."""

    def __init__(self, tag: str, expression_channels: tuple[str, ...] = ("smile", "valence")) -> None:
        super().__init__(daemon=True)
        self.gaze_point: tuple[float, float] = OFF_FACE
        self.gaze_valid = True
        self.smile = 0.05
        self.gsr = 5.0
        self.stalled: set[str] = set()
        self.stop_event = threading.Event()
        self.rates = {"gaze": 120.0, "expression": 30.0, "gsr": 32.0}
        self.outlets = {
            "gaze": pylsl.StreamOutlet(stream_info(f"{tag}-gaze", "Gaze", GAZE_CHANNELS, 120.0, "float32",
                                                   f"{tag}-gaze")),
            "expression": pylsl.StreamOutlet(stream_info(
                f"{tag}-face", "FacialExpression", [Channel(c, "score", "Expression") for c in expression_channels],
                30.0, "float32", f"{tag}-face")),
            "gsr": pylsl.StreamOutlet(stream_info(f"{tag}-gsr", "GSR", [Channel("skin_conductance", "microsiemens",
                                                                               "GSR")], 32.0, "float32", f"{tag}-gsr")),
        }
        self.channels = expression_channels
        self.infos: dict[str, pylsl.StreamInfo] = {}

    def drop(self, kind: str) -> None:
        """The stream leaves the network (device unplugged, app closed)."""
        self.stalled.add(kind)
        self.infos[kind] = self.outlets[kind].get_info()
        self.outlets[kind] = None

    def restore(self, kind: str) -> None:
        """The same device comes back: a new outlet with the same name and source_id."""
        self.outlets[kind] = pylsl.StreamOutlet(self.infos[kind])
        self.stalled.discard(kind)

    def row(self, kind: str) -> list[float]:
        if kind == "gaze":
            x, y = self.gaze_point
            if not self.gaze_valid:
                return [np.nan] * 6 + [0.0, 0.0]
            return [x, y, 3.5, x + 0.002, y, 3.6, 1.0, 1.0]
        if kind == "expression":
            values = {"smile": self.smile, "valence": 2 * self.smile - 1, "face_present": 1.0}
            return [values.get(c, 0.0) for c in self.channels]
        return [self.gsr]

    def run(self) -> None:
        start = pylsl.local_clock()
        sent = dict.fromkeys(self.outlets, 0)
        while not self.stop_event.wait(0.004):
            now = pylsl.local_clock()
            for kind, outlet in list(self.outlets.items()):
                due = int((now - start) * self.rates[kind]) + 1
                if kind in self.stalled or outlet is None:
                    sent[kind] = due  # nothing pushed, nothing owed
                    continue
                for _ in range(sent[kind], due):  # stamped when sent: a value set now is never back-dated
                    outlet.push_sample(self.row(kind), now)
                sent[kind] = due

    def stop(self) -> None:
        self.stop_event.set()
        self.join(2.0)
        self.outlets.clear()  # the streams leave the network now, not when this object is collected


class Reacting:
    """A marker sink that lets the scripted body react to what the task shows."""

    def __init__(self, react) -> None:
        self.react = react
        self.markers: list[Marker] = []

    def send(self, event: str, timestamp: float | None = None, **fields) -> None:
        self.markers.append(Marker(event, float(timestamp or 0.0), len(self.markers) + 1, fields))
        self.react(event, fields)


@pytest.fixture(scope="module")
def window(qapp):
    win = StimulusWindow()
    win.open(windowed=True, size=SIZE)
    yield win
    win.close()


@pytest.fixture
def outlets(unique):
    scripted = Scripted(unique)
    scripted.start()
    yield scripted
    scripted.stop()


def training(tmp_path: Path, tag: str, trials: int = 4, **feedback) -> Path:
    data = yaml.safe_load(Path("configs/protocols/emotion_training.yaml").read_text(encoding="utf-8"))
    fb = data["feedback"]
    fb["streams"] = {"gaze": f"name='{tag}-gaze'", "expression": f"name='{tag}-face'", "gsr": f"name='{tag}-gsr'"}
    fb.update(find_timeout=3.0, baseline=1.0)
    for key, value in feedback.items():
        if isinstance(value, dict):
            fb.setdefault(key, {}).update(value)
        else:
            fb[key] = value
    data.update(instructions="", breaks={"between_blocks": False},
                blocks=[{"name": "fb", "trials": trials}])
    data["timing"].update(face=2.0, fixation=0.2, fixation_jitter=0.0, iti=0.1, feedback=0.2)
    data["training"].update(neutral_fraction=0.0, summary_duration=0.2)
    path = tmp_path / "fb_training.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def run(path: Path, window: StimulusWindow, sink: Reacting, speed: float = 4.0, notices=None) -> RunResult:
    return run_protocol(load_protocol(path), sink, participant=SimulatedParticipant(seed=5), window=window,
                        speed=speed, on_feedback=(lambda *a: notices.append(a)) if notices is not None else None)


def assert_found_all(result: RunResult) -> None:
    check = next(m for m in result.markers if m.event == "feedback_check")
    assert (check.get("gaze"), check.get("expression"), check.get("gsr")) == ("ok", "ok", "ok"), check.fields


def per_face(markers: list[Marker], event: str) -> dict[int, list[Marker]]:
    out: dict[int, list[Marker]] = {}
    for m in markers:
        if m.event == event:
            out.setdefault(m.get("trial"), []).append(m)
    return out


def test_gaze_off_the_regions_brings_a_cue_and_looking_there_ends_it(window, outlets, unique, tmp_path):
    rect: list[float] = []
    seen_overlays: list[scenes.Overlay | None] = []

    def react(event: str, fields: dict) -> None:
        if event == "face_onset":
            rect[:] = fields["face_rect"]
            outlets.gaze_point = OFF_FACE  # looks beside the face
        elif event == "feedback_cue_on":
            seen_overlays.append(window.overlay)
            outlets.gaze_point = regions.region_centre("eyes", tuple(rect))  # follows the cue to the eyes
        elif event == "face_offset":
            outlets.gaze_point = OFF_FACE

    sink = Reacting(react)
    swaps_before = len(window.frames)
    overlay_swaps: list[float] = []
    window.overlay_shown.connect(lambda _version, t: overlay_swaps.append(t))
    result = run(training(tmp_path, unique), window, sink)
    markers = result.markers
    check = next(m for m in markers if m.event == "feedback_check")
    assert (check.get("gaze"), check.get("expression"), check.get("gsr")) == ("ok", "ok", "ok")
    faces = {m.get("trial"): m for m in markers if m.event == "face_onset"}
    offsets = {m.get("trial"): m for m in markers if m.event == "face_offset"}
    cues, looks, offs = (per_face(markers, e) for e in ("feedback_cue_on", "feedback_look", "feedback_cue_off"))
    assert len(faces) == 4 and set(cues) == set(faces)
    cue_after = 0.6 / result.speed
    for trial, face in faces.items():
        (cue,) = cues[trial]
        assert cue.get("regions") == ["eyes", "mouth"]
        # triggered by the first gaze sample past cue_after, shown on a later frame swap
        assert cue.get("sample_time") >= face.timestamp + cue_after
        assert face.timestamp < cue.get("sample_time") <= cue.timestamp < offsets[trial].timestamp
        assert cue.get("latency") == pytest.approx(cue.timestamp - cue.get("sample_time"), abs=1e-4)
        (look,) = looks[trial]  # she followed the cue to the eyes, never to the mouth
        assert look.get("region") == "eyes" and look.get("cued") is True
        assert look.timestamp >= cue.timestamp
        ended = {m.get("region"): m for m in offs[trial]}
        assert ended["eyes"].get("reason") == "looked" and ended["mouth"].get("reason") == "face_offset"
        assert ended["eyes"].timestamp >= look.timestamp
        summary = next(m for m in markers if m.event == "feedback_face" and m.get("trial") == trial)
        assert summary.get("cued") is True and summary.get("first_mouth") is None
        assert summary.get("first_eyes") == pytest.approx(look.timestamp - face.timestamp, abs=1e-3)
    # what was on screen when the cue marker went out: both regions of that face, outlined
    for overlay in seen_overlays:
        assert overlay is not None and overlay.cue_style == "outline"
        assert set(overlay.cues) == {region_box("eyes", tuple(rect)), region_box("mouth", tuple(rect))}
    # every visible feedback event carries the swap time of a real frame
    swaps = {f.swapped for f in window.frames[swaps_before:]} | set(overlay_swaps)
    visible = [m for m in markers if m.event in ("feedback_cue_on", "feedback_cue_off")]
    assert visible and all(m.timestamp in swaps for m in visible)
    assert result.feedback_latency["cue"] and all(v > 0 for v in result.feedback_latency["cue"])
    block = next(m for m in markers if m.event == "feedback_block")
    assert (block.get("faces"), block.get("looked_eyes"), block.get("cued")) == (4, 4, 4)
    summary_screen = next(m for m in markers if m.event == "summary_onset")
    assert summary_screen is not None


def test_looking_at_eyes_and_mouth_in_time_needs_no_cue(window, outlets, unique, tmp_path):
    rect: list[float] = []
    looked: list[str] = []

    def react(event: str, fields: dict) -> None:
        if event == "face_onset":
            rect[:] = fields["face_rect"]
            outlets.gaze_point = regions.region_centre("eyes", tuple(rect))
        elif event == "feedback_look":
            looked.append(fields["region"])
            if fields["region"] == "eyes":
                outlets.gaze_point = regions.region_centre("mouth", tuple(rect))

    result = run(training(tmp_path, unique, trials=2, attention={"cue_after": 3.0}), window, Reacting(react))
    events = [m.event for m in result.markers]
    assert_found_all(result)
    assert "feedback_cue_on" not in events
    assert looked == ["eyes", "mouth"] * 2


def test_her_smile_is_mirrored_against_her_baseline_on_happy_faces_only(window, outlets, unique, tmp_path):
    outlets.smile = 0.05

    def react(event: str, fields: dict) -> None:
        if event == "face_onset":
            outlets.smile = 0.6  # she smiles at every face; only happy ones count
        elif event == "face_offset":
            outlets.smile = 0.05

    result = run(training(tmp_path, unique, trials=6), window, Reacting(react))
    assert_found_all(result)
    markers = result.markers
    base = next(m for m in markers if m.event == "feedback_baseline")
    assert base.get("smile_mean") == pytest.approx(0.05, abs=1e-3) and base.get("smile_samples") > 0
    emotions = {m.get("trial"): m.get("emotion") for m in markers if m.event == "face_onset"}
    mirrored = {m.get("trial"): m for m in markers if m.event == "feedback_mirroring"}
    assert {"happy", "sad"} <= set(emotions.values())
    assert set(mirrored) == {t for t, e in emotions.items() if e == "happy"}
    for m in mirrored.values():
        assert m.get("smile") == pytest.approx(0.6, abs=1e-3)
        assert m.get("threshold") == pytest.approx(0.05 + 0.15, abs=1e-3)
    assert result.feedback_latency["bar"]  # the bar was drawn from live samples
    block = next(m for m in markers if m.event == "feedback_block")
    assert block.get("mirrored") == block.get("mirror_faces") == len(mirrored)
    summary = result.summaries[0]
    assert summary.trials == 6
    text = scenes_text(result)
    assert f"You smiled back at {len(mirrored)} of {len(mirrored)} happy babies." in text


def scenes_text(result: RunResult) -> str:
    """The block summary the participant read (the run keeps its feedback counts in the marker)."""
    block = next(m for m in result.markers if m.event == "feedback_block")
    from stimulus.feedback import BlockCounts
    fields = {k: block.get(k) for k in ("faces", "looked_eyes", "looked_mouth", "cued", "mirror_faces",
                                         "mirrored", "calm")}
    return BlockCounts(**fields).text()


def test_skin_conductance_rising_after_a_sad_face_brings_the_breathing_cue(window, outlets, unique, tmp_path):
    def react(event: str, fields: dict) -> None:
        if event == "feedback_offset":  # recovered before the next face
            outlets.gsr = 5.0
        elif event == "face_offset":
            outlets.gsr = 5.3  # a skin conductance response after every face; only sad ones count

    result = run(training(tmp_path, unique, trials=6, calm={"duration": 0.4}), window, Reacting(react))
    assert_found_all(result)
    markers = result.markers
    emotions = {m.get("trial"): m.get("emotion") for m in markers if m.event == "face_onset"}
    calm_on = [m for m in markers if m.event == "feedback_calm_on"]
    assert calm_on and all(emotions[m.get("trial")] == "sad" for m in calm_on)
    assert {m.get("trial") for m in calm_on} == {t for t, e in emotions.items() if e == "sad"}
    assert all(m.get("rise") > 0.05 for m in calm_on)
    offs = [m for m in markers if m.event == "feedback_calm_off"]
    assert len(offs) == len(calm_on)
    for on, off in zip(calm_on, offs):
        assert off.timestamp > on.timestamp


def test_a_stalled_stream_pauses_its_feedback_and_resumes_with_markers(window, outlets, unique, tmp_path):
    notices: list[tuple[str, str, str]] = []
    state = {"faces": 0, "poor": 0}

    def react(event: str, fields: dict) -> None:
        if event == "face_onset":
            state["faces"] += 1
            if state["faces"] == 2:
                outlets.stalled.add("gaze")  # the eye tracker stops sending
        elif event == "feedback_paused" and fields["feed"] == "gaze":
            outlets.stalled.discard("gaze")  # comes back
            outlets.gaze_valid = True  # (and finds the eyes again after the second pause)
        elif event == "feedback_resumed" and fields["feed"] == "gaze" and state["poor"] == 0:
            state["poor"] += 1
            outlets.gaze_valid = False  # then loses the eyes: poor validity

    result = run(training(tmp_path, unique, trials=5), window, Reacting(react), notices=notices)
    assert_found_all(result)
    markers = result.markers
    paused = [m for m in markers if m.event == "feedback_paused" and m.get("feed") == "gaze"]
    resumed = [m for m in markers if m.event == "feedback_resumed" and m.get("feed") == "gaze"]
    assert paused[0].get("reason").startswith("no samples for")
    assert any(p.get("reason").startswith("valid ") and "needs 50 %" in p.get("reason") for p in paused[1:])
    assert len(resumed) == len(paused) >= 2
    for p, r in zip(paused, resumed):
        assert p.timestamp < r.timestamp
        # no cue is shown while gaze is paused
        assert not [m for m in markers if m.event == "feedback_cue_on" and p.timestamp < m.timestamp < r.timestamp]
    assert ("gaze", "paused", paused[0].get("reason")) in notices and ("gaze", "resumed", "") in notices
    assert len(result.trials) == 5 and not result.aborted  # the training went on


def test_a_missing_stream_is_reported_at_the_start_and_the_rest_runs(window, outlets, unique, tmp_path):
    notices: list[tuple[str, str, str]] = []
    path = training(tmp_path, unique, trials=2, find_timeout=1.5,
                    streams={"gaze": f"name='{unique}-no-such-tracker'"})
    result = run(path, window, Reacting(lambda e, f: None), notices=notices)
    check = next(m for m in result.markers if m.event == "feedback_check")
    assert (check.get("gaze"), check.get("expression"), check.get("gsr")) == ("missing", "ok", "ok")
    assert result.feedback_check is not None and not result.feedback_check.all_ok
    assert notices[0][:2] == ("gaze", "missing") and "no-such-tracker" in notices[0][2]
    assert [m.event for m in result.markers if m.event.startswith("feedback_cue")] == []
    assert len(result.trials) == 2


def test_expression_stream_with_the_facial_expression_layout_is_read_by_its_smile_label(window, unique, tmp_path):
    scripted = Scripted(unique, expression_channels=("face_present", "smile", "mouth_open", "brow_lower",
                                                      "eye_open", "head_yaw", "head_pitch", "valence"))
    scripted.smile = 0.1
    scripted.start()
    try:
        result = run(training(tmp_path, unique, trials=2), window, Reacting(lambda e, f: None))
    finally:
        scripted.stop()
    base = next(m for m in result.markers if m.event == "feedback_baseline")
    assert base.get("smile_mean") == pytest.approx(0.1, abs=1e-3)


def test_gaze_contingent_face_stays_until_eyes_and_mouth_had_their_dwell(window, outlets, unique, tmp_path):
    rect: list[float] = []

    def react(event: str, fields: dict) -> None:
        if event == "face_onset":  # the eyes at once; the mouth only when the cue points there
            rect[:] = fields["face_rect"]
            outlets.gaze_point = regions.region_centre("eyes", tuple(rect))
        elif event == "feedback_cue_on" and "mouth" in fields["regions"]:
            outlets.gaze_point = regions.region_centre("mouth", tuple(rect))
        elif event == "face_offset":
            outlets.gaze_point = OFF_FACE

    path = training(tmp_path, unique, trials=2,
                    attention={"gaze_contingent": True, "min_dwell": 0.2, "max_face": 20.0, "cue_after": 0.4})
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["timing"]["face"] = 0.1
    path.write_text(yaml.safe_dump(data), encoding="utf-8")

    result = run(path, window, Reacting(react), speed=1.0)
    assert_found_all(result)
    markers = result.markers
    dwell = per_face(markers, "feedback_dwell")
    for trial, face in {m.get("trial"): m for m in markers if m.event == "face_onset"}.items():
        (reached,) = dwell[trial]
        offset = next(m for m in markers if m.event == "face_offset" and m.get("trial") == trial)
        assert reached.get("dwell_eyes") >= 0.2 and reached.get("dwell_mouth") >= 0.2
        # the face outlasted its 0.1 s: it went on the first frame after the dwell was reached
        assert face.timestamp + 0.1 < reached.timestamp <= offset.timestamp


def test_gaze_contingent_face_goes_at_max_face_when_she_never_looks(window, outlets, unique, tmp_path):
    path = training(tmp_path, unique, trials=1,
                    attention={"gaze_contingent": True, "min_dwell": 0.2, "max_face": 2.0})
    outlets.gaze_point = OFF_FACE
    result = run(path, window, Reacting(lambda e, f: None), speed=4.0)
    face = next(m for m in result.markers if m.event == "face_onset")
    offset = next(m for m in result.markers if m.event == "face_offset")
    assert offset.timestamp - face.timestamp >= 2.0 / 4.0 - 0.002
    assert not [m for m in result.markers if m.event == "feedback_dwell"]


def test_cue_and_bar_are_drawn_where_the_overlay_says(qapp):
    display = Display()
    w, h = 640, 400
    rect = (0.3, 0.2, 0.7, 0.8)

    def render(overlay: scenes.Overlay | None, screen: scenes.Screen | None = None):
        from PyQt6.QtGui import QImage, QPainter
        face = QImage(8, 8, QImage.Format.Format_ARGB32_Premultiplied)
        face.fill(0)
        image = QImage(w, h, QImage.Format.Format_RGB32)
        painter = QPainter(image)
        scenes.paint(painter, screen or scenes.FaceScreen(face), display, w, h, None, overlay)
        painter.end()
        return image

    plain = render(None)
    box = region_box("eyes", rect)
    cued = render(scenes.Overlay(cues=(box,), cue_colour="#ffe680"))
    y = round((box[1] + box[3]) / 2 * h)
    x = round(box[0] * w)
    assert cued.pixelColor(x, y) != plain.pixelColor(x, y)  # the outline's left edge
    centre = (round((box[0] + box[2]) / 2 * w), y)
    assert cued.pixelColor(*centre) == plain.pixelColor(*centre)  # an outline, not a fill
    gone = render(scenes.Overlay(cues=(box,)), scenes.ChoiceScreen("?"))  # the cue belongs to the face
    assert gone.pixelColor(x, y) == render(None, scenes.ChoiceScreen("?")).pixelColor(x, y)
    bar = scenes.smile_bar(w, h)
    low = render(scenes.Overlay(smile=0.1, baseline=0.05, threshold=0.2))
    high = render(scenes.Overlay(smile=0.9, baseline=0.05, threshold=0.2, mirrored=True))
    px, py = round(bar.center().x()), round(bar.top() + 0.2 * bar.height())  # near the top of the track
    assert low.pixelColor(px, py) != high.pixelColor(px, py)
    assert high.pixelColor(px, py).green() > high.pixelColor(px, py).red()  # lit green when mirrored


@pytest.mark.parametrize(("path", "value", "field", "words"), [
    ("attention.cue_style", "glow", "feedback.attention.cue_style", "outline, brighten"),
    ("attention.regions", ["eyes", "nose"], "feedback.attention.regions[1]", "eyes, mouth"),
    ("attention.regions", [], "feedback.attention.regions", "at least one region"),
    ("attention.cue_colour", "yellow", "feedback.attention.cue_colour", "colour"),
    ("mirroring.emotions", ["joyful"], "feedback.mirroring.emotions[0]", "sad, neutral, happy"),
    ("mirroring.threshold", 2, "feedback.mirroring.threshold", "at most 1"),
    ("calm.rise", 0, "feedback.calm.rise", "at least"),
    ("stall_after", "soon", "feedback.stall_after", "number"),
    ("streams.gaze", " ", "feedback.streams.gaze", "LSL predicate"),
    ("baseline", 0, "feedback.baseline", "mirroring"),
    ("attention.wobble", 1, "feedback.attention.wobble", "unknown setting"),
])
def test_bad_feedback_settings_name_the_file_and_field(tmp_path, path, value, field, words):
    from configs import ConfigError

    data = yaml.safe_load(Path("configs/protocols/emotion_training.yaml").read_text(encoding="utf-8"))
    node = data["feedback"]
    *parents, key = path.split(".")
    for part in parents:
        node = node[part]
    node[key] = value
    bad = tmp_path / "bad_training.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_protocol(bad)
    assert str(err.value).startswith(f"bad_training.yaml: {field}: ")
    assert words in str(err.value)


def test_feedback_is_for_training_protocols_only(tmp_path):
    from configs import ConfigError

    data = yaml.safe_load(Path("configs/protocols/infant_face_rating.yaml").read_text(encoding="utf-8"))
    data["feedback"] = {"enabled": True}
    bad = tmp_path / "rating_fb.yaml"
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"rating_fb.yaml: feedback.enabled: feedback runs in training"):
        load_protocol(bad)
    assert load_protocol("infant_face_rating").feedback.enabled is False
    assert load_protocol("emotion_training").feedback.enabled is True


def test_check_feedback_command_tells_what_is_there_before_the_session(outlets, unique, tmp_path):
    import subprocess
    import sys

    def check(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "main.py", "stimulus", "--protocol", str(path), "--check-feedback"],
                              capture_output=True, text=True, timeout=60)

    ok = check(training(tmp_path, unique))
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.splitlines() == [f"gaze: ok ({unique}-gaze)", f"expression: ok ({unique}-face)",
                                      f"gsr: ok ({unique}-gsr)"]
    outlets.stalled.add("gsr")  # found, but sends nothing
    missing = check(training(tmp_path, unique, find_timeout=1.0, streams={"gaze": f"name='{unique}-none'"}))
    assert missing.returncode == 1
    lines = missing.stdout.splitlines()
    assert lines[0] == f"gaze: missing (no stream matches name='{unique}-none')"
    assert lines[2] == f"gsr: missing ({unique}-gsr: no samples in 1.0 s)"
    assert "runs without the feedback" in missing.stderr


def test_simulated_body_looks_beside_the_features_until_cued_then_follows_the_cue(unique):
    from devices.body import FaceRegions, SimulatedBody
    from devices.lab import DeviceConfig, SimulatedLab

    lab = SimulatedLab([DeviceConfig("eyetracker", 300.0, f"{unique}ET", f"{unique}-et", 1),
                        DeviceConfig("webcam", 30.0, f"{unique}Cam", f"{unique}-cam", 3, {"expression": True})])
    body = SimulatedBody(lab, attention=0.0, mirroring=0.6)  # not started: the signal models alone
    rect = [0.34, 0.25, 0.66, 0.75]
    face = FaceRegions.from_rect(tuple(rect))

    def share_near(samples: np.ndarray) -> dict[str, float]:
        """Share of valid gaze samples within 0.03 (screen) of each kind of point."""
        gaze = recognise(lab.eyetracker.info).canonical(samples)
        (x, y), ok = gaze.point(), gaze.valid()
        points = {"eyes": face.eyes, "mouth": (face.mouth,), "elsewhere": face.elsewhere}
        return {name: float(np.mean([min(np.hypot(px - a, py - b) for a, b in pts) < 0.03
                                      for px, py in zip(x[ok], y[ok])])) for name, pts in points.items()}

    body.send("face_onset", morph=1.0, face_rect=rect)
    before = share_near(lab.eyetracker.generate(900)[300:])  # 2 s once settled
    assert before["elsewhere"] > 0.7 and before["eyes"] + before["mouth"] < 0.05  # beside the features
    body.send("feedback_cue_on", regions=["eyes"])
    after = share_near(lab.eyetracker.generate(900)[300:])
    assert after["eyes"] > 0.7 and after["elsewhere"] < 0.05  # the cue is followed
    assert body.attention > 0.0
    gain = body.mirroring
    body.send("feedback_mirroring", smile=0.5)
    body.send("protocol_start", task="training")
    assert body.mirroring > gain


def test_a_stream_that_drops_off_the_network_and_comes_back_resumes(window, outlets, unique, tmp_path):
    notices: list[tuple[str, str, str]] = []
    state = {"faces": 0}

    def react(event: str, fields: dict) -> None:
        if event == "face_onset":
            state["faces"] += 1
            if state["faces"] == 2:
                outlets.drop("expression")
        elif event == "feedback_paused" and fields["feed"] == "expression":
            outlets.restore("expression")  # the inlet finds it again by its source_id

    result = run(training(tmp_path, unique, trials=12), window, Reacting(react), notices=notices)  # time to recover
    assert_found_all(result)
    markers = result.markers
    paused = [m for m in markers if m.event == "feedback_paused" and m.get("feed") == "expression"]
    resumed = [m for m in markers if m.event == "feedback_resumed" and m.get("feed") == "expression"]
    assert len(paused) == len(resumed) == 1 and paused[0].timestamp < resumed[0].timestamp
    assert paused[0].get("reason").startswith("no samples for")
    assert len(result.trials) == 12
