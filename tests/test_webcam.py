"""The real webcam pipeline on real pixels: a video of the astronaut photograph, warped.

The device plays the video file like a camera; the tests read its LSL
streams (or record them) and compare with the video it wrote.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pylsl
import pytest
import pyxdf

from devices.expression import EXPRESSION_LABELS
from devices.video import GapCounter
from devices.webcam_device import WebcamDevice, WebcamSettings
from tests.astronaut_video import FPS, base_frame, count_frames, landmarks, no_face_frame, smile_levels, turn_head, write_video

ROOT = Path(__file__).resolve().parent.parent
# the face mesh (and the warps placed by its landmarks) needs mediapipe, which has no wheels for Python 3.13+
needs_mediapipe = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe not installed")
LIFTS = (-12.0, -8.0, -4.0, 0.0, 4.0)  # px the mouth corners move up; the mesh saturates above +4 here
PER_LEVEL = 12
TURNS = (-0.3, 0.0, 0.3)
PER_TURN = 10
COLUMN = {label: i for i, label in enumerate(EXPRESSION_LABELS)}


@pytest.fixture(scope="module")
def face_video(tmp_path_factory) -> tuple[Path, list[float], list[float]]:
    """Smile levels in rising order, then head turns; with the warp of every frame."""
    folder = tmp_path_factory.mktemp("webcam")
    levels = smile_levels(LIFTS)
    frame = base_frame()
    points = landmarks(frame)
    frames, lifts, turns = [], [], []
    for lift in LIFTS:
        frames += [levels[lift]] * PER_LEVEL
        lifts += [lift] * PER_LEVEL
        turns += [0.0] * PER_LEVEL
    for turn in TURNS:
        frames += [turn_head(frame, points, turn)] * PER_TURN
        lifts += [0.0] * PER_TURN
        turns += [turn] * PER_TURN
    return write_video(folder / "astronaut.avi", frames), lifts, turns


def collect(inlet: pylsl.StreamInlet, into: list, stamps: list) -> None:
    values, times = inlet.pull_chunk(timeout=0.0)
    into.extend(values)
    stamps.extend(times)


def run_device(settings: WebcamSettings, expected_min: int = 1) -> tuple[WebcamDevice, np.ndarray, np.ndarray,
                                                                          np.ndarray, np.ndarray]:
    """Play to the end with inlets subscribed before the first frame; every pushed sample collected."""
    go = threading.Event()
    device = WebcamDevice(settings, go=go, linger=None)
    device.start()
    assert device.ready.wait(30) and device.error is None, device.error
    inlets = []
    for name in device.stream_names:
        (info,) = pylsl.resolve_byprop("name", name, 1, 10.0)
        inlet = pylsl.StreamInlet(info, max_buflen=60)
        inlet.open_stream(10.0)
        inlets.append(inlet)
    time.sleep(0.2)  # liblsl: a just-opened inlet may not yet receive the very next push
    go.set()
    frames, frame_t, expr, expr_t = [], [], [], []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        collect(inlets[0], frames, frame_t)
        collect(inlets[1], expr, expr_t)
        if device.finished.is_set() and len(frames) == len(expr) == device.stats.frames >= expected_min:
            break
        time.sleep(0.05)
    device.stop()
    assert device.error is None, device.error
    return device, np.array(frames), np.array(frame_t), np.array(expr, dtype=float), np.array(expr_t)


@needs_mediapipe
def test_face_smile_and_head_turn_follow_the_warps(face_video, tmp_path, unique):
    video, lifts, turns = face_video
    saved = tmp_path / "session_video.mkv"
    device, frames, frame_t, expr, expr_t = run_device(
        WebcamSettings(video=video, save_video=saved, name=unique, source_id=unique), expected_min=1)
    written = count_frames(saved)
    assert len(frames) == written == device.stats.frames  # one sample per frame in the file
    np.testing.assert_array_equal(frames[:, 0], np.arange(written))  # frame_index = position in the file
    assert written + device.stats.dropped == len(lifts)  # every source frame either written or counted as dropped
    np.testing.assert_array_equal(frame_t, expr_t)  # the expression carries its frame's capture stamp
    assert np.all(np.diff(frame_t) > 0)

    # which source frame each written frame was: its index plus the drops before it
    source_index = frames[:, 0] + frames[:, 1]
    lift = np.array(lifts)[source_index]
    turn = np.array(turns)[source_index]
    assert expr[:, COLUMN["face_present"]].mean() >= 0.95
    smile = expr[:, COLUMN["smile"]]
    straight = turn == 0.0
    means = [np.nanmean(smile[(lift == level) & straight]) for level in LIFTS]
    assert all(b > a - 0.05 for a, b in zip(means, means[1:])), means  # rises with the corner lift
    assert means[-1] - means[0] > 0.3, means
    valence = expr[:, COLUMN["valence"]]
    assert np.nanmean(valence[(lift == LIFTS[-1]) & straight]) > np.nanmean(valence[(lift == LIFTS[0]) & straight])
    yaw = expr[:, COLUMN["head_yaw"]]
    in_turn_part = source_index >= len(LIFTS) * PER_LEVEL
    turned = [np.nanmedian(yaw[in_turn_part & (turn == t)]) for t in TURNS]
    assert turned[0] > turned[1] + 3 and turned[2] < turned[1] - 3, turned  # opposite turns, opposite yaw
    assert np.all(np.isfinite(expr[:, 1:]))


def test_no_face_in_view_gives_face_present_zero(tmp_path, unique):
    video = write_video(tmp_path / "empty_room.avi", [no_face_frame()] * 20)
    device, frames, _, expr, _ = run_device(WebcamSettings(video=video, name=unique, source_id=unique))
    assert len(expr) == len(frames) == device.stats.frames > 0
    assert np.all(expr[:, COLUMN["face_present"]] == 0.0)
    assert np.all(np.isnan(expr[:, 1:]))


def test_haar_fallback_keeps_the_layout(tmp_path, unique):
    video = write_video(tmp_path / "smile.avi", [base_frame()] * 10)
    device, frames, _, expr, _ = run_device(WebcamSettings(video=video, name=unique, source_id=unique, method="haar"))
    assert expr.shape == (len(frames), len(EXPRESSION_LABELS))
    assert expr[:, COLUMN["face_present"]].mean() >= 0.9
    assert np.all(np.isnan(expr[:, COLUMN["head_yaw"]]))


@needs_mediapipe
def test_recording_holds_video_frames_and_expression_aligned(face_video, tmp_path, unique):
    from acquisition.recorder import Recorder

    video, lifts, _ = face_video
    saved = tmp_path / "sub-01_video.mkv"
    go = threading.Event()
    device = WebcamDevice(WebcamSettings(video=video, save_video=saved, name=unique, source_id=unique),
                          go=go, linger=None)
    device.start()
    assert device.ready.wait(30) and device.error is None
    found = []
    deadline = time.monotonic() + 15
    while len(found) < 2 and time.monotonic() < deadline:
        found = pylsl.resolve_bypred(f"starts-with(name,'{unique}')", 2, 2.0)
    assert len(found) == 2
    recorder = Recorder(tmp_path / "sub-01.xdf", [f"starts-with(name,'{unique}')"])
    recorder.start(found)
    for reader in recorder.readers.values():
        assert reader.opened.wait(10)
    time.sleep(0.3)  # inlets subscribed before the first push
    go.set()
    assert device.finished.wait(120)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(r.samples < device.stats.frames for r in recorder.status()):
        time.sleep(0.1)
    recorder.stop()
    device.stop()

    streams, _ = pyxdf.load_xdf(str(tmp_path / "sub-01.xdf"), synchronize_clocks=False, dejitter_timestamps=False)
    by_type = {s["info"]["type"][0]: s for s in streams}
    frames, expression = by_type["VideoFrames"], by_type["FacialExpression"]
    written = count_frames(saved)
    assert len(frames["time_stamps"]) == len(expression["time_stamps"]) == written
    np.testing.assert_array_equal(frames["time_series"][:, 0], np.arange(written))
    np.testing.assert_array_equal(frames["time_stamps"], expression["time_stamps"])
    info = frames["info"]
    assert info["desc"][0]["synchronization"][0]["can_drop_samples"] == ["true"]
    assert info["desc"][0]["video"][0]["file"] == [saved.name]
    labels = [c["label"][0] for c in expression["info"]["desc"][0]["channels"][0]["channel"]]
    assert labels == EXPRESSION_LABELS
    assert "mediapipe" in expression["info"]["desc"][0]["method"][0]
    # played from a file, frame k (dropped ones included) is stamped k / fps after the first: a marker
    # at time t shows the file's frame whose stamp is nearest t
    source_index = frames["time_series"][:, 0] + frames["time_series"][:, 1]
    elapsed = frames["time_stamps"] - frames["time_stamps"][0]
    np.testing.assert_allclose(elapsed, (source_index - source_index[0]) / FPS, atol=1e-6)


def attune(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)


def test_dropped_frames_are_counted_from_gaps_between_stamps():
    gaps = GapCounter(fps=30.0)
    period = 1 / 30
    stamps = [0.0, period, 2 * period, 5 * period, 6.4 * period, 9.6 * period]
    assert [gaps.dropped(t) for t in stamps] == [0, 0, 0, 2, 0, 2]  # 3 periods: 2 lost; 1.4: jitter; 3.2: 2 lost


def test_cli_plays_a_video_file_and_refuses_bad_input(tmp_path, unique):
    video = write_video(tmp_path / "short.avi", [base_frame()] * 15)
    out = tmp_path / "out_video.mkv"
    done = attune("devices", "webcam", "--video", str(video), "--save-video", str(out), "--name", unique,
                  "--source-id", unique)
    assert done.returncode == 0, done.stderr
    assert "15 frames" in done.stdout and "video file format: 640x480 @ 30 fps" in done.stdout
    assert count_frames(out) == 15
    again = attune("devices", "webcam", "--video", str(video), "--save-video", str(out), "--name", unique)
    assert again.returncode != 0 and "already exists" in again.stderr and count_frames(out) == 15
    missing = attune("devices", "webcam", "--video", str(tmp_path / "nope.avi"), "--name", unique)
    assert missing.returncode != 0 and "nope.avi" in missing.stderr
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"\x00not a video" * 100)
    bad = attune("devices", "webcam", "--video", str(garbage), "--name", unique)
    assert bad.returncode != 0 and "garbage.avi" in bad.stderr
    nocam = attune("devices", "webcam", "--camera", "97", "--name", unique)
    assert nocam.returncode != 0 and "camera 97" in nocam.stderr


@needs_mediapipe
def test_head_roll_is_not_a_smile():
    from devices.expression import FaceMeshEstimator
    from devices.opencv import cv2

    frame = base_frame()
    cv = cv2()
    smiles = {}
    for angle in (-15.0, 0.0, 15.0):
        rotation = cv.getRotationMatrix2D((320.0, 120.0), angle, 1.0)
        tilted = cv.warpAffine(frame, rotation, (frame.shape[1], frame.shape[0]), borderMode=cv.BORDER_REPLICATE)
        estimator = FaceMeshEstimator()  # a fresh tracker for each picture
        smiles[angle] = estimator.estimate(tilted)[COLUMN["smile"]]
        estimator.close()
    assert smiles[0.0] > 0.5  # the astronaut smiles broadly
    assert abs(smiles[15.0] - smiles[0.0]) < 0.15 and abs(smiles[-15.0] - smiles[0.0]) < 0.15, smiles
