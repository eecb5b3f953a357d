"""Simulated devices: signal models, metadata on the wire, config validation."""
from __future__ import annotations

import time

import numpy as np
import pylsl
import pytest

from configs import ConfigError
from devices.expression import EXPRESSION_LABELS
from devices.eyetracker import EyeTrackerSource
from devices.gsr import GSRSource, scr_shape
from devices.lab import SimulatedLab, load_devices, parse_devices
from devices.webcam import ExpressionSource, FrameIndexSource


def test_eyetracker_has_fixations_saccades_and_blinks():
    source = EyeTrackerSource(rate=1200.0, seed=5)
    data = source.generate(1200 * 20)
    valid = data[:, 6] == 1.0
    assert np.isnan(data[~valid, :6]).all(), "invalid samples carry NaN gaze and pupil"
    blinks = np.sum(np.diff(valid.astype(int)) == -1)
    assert 2 <= blinks <= 12, f"{blinks} blinks in 20 s"
    gaze = data[valid, 0:2]
    assert (gaze > -0.1).all() and (gaze < 1.1).all()
    smooth = data[:, 0:2].reshape(-1, 12, 2).mean(axis=1)  # 10 ms means, as a velocity filter would
    speed = np.linalg.norm(np.diff(smooth, axis=0), axis=1) * 100  # screen widths per second
    speed = speed[np.isfinite(speed)]
    slow = np.mean(speed < 0.5)
    assert slow > 0.7, "most of the time the eyes fixate"
    assert (speed > 2.0).any(), "saccades are fast"
    pupil = data[valid, 2]
    assert 2.0 < pupil.mean() < 5.0


def test_gsr_level_and_stimulus_locked_response():
    source = GSRSource(rate=128.0, seed=1, spontaneous_per_min=0.0)
    baseline = source.generate(128 * 5)[:, 0]
    assert 2.0 <= baseline.min() and baseline.max() <= 20.0
    source.respond(delay_s=2.0, amplitude_us=0.8)
    after = source.generate(128 * 10)[:, 0]
    rise = after - baseline[-1]
    peak_index = int(np.argmax(rise))
    assert 0.6 < rise[peak_index] < 1.0
    assert 2.0 < peak_index / 128 < 4.5, "peak comes after the onset latency plus rise time"
    assert scr_shape(np.array([-1.0, 0.0]))[0] == 0.0


def test_webcam_frames_count_and_expression_follows_valence():
    frames = FrameIndexSource()
    np.testing.assert_array_equal(frames.generate(3)[:, 0], [0, 1, 2])
    np.testing.assert_array_equal(frames.generate(2)[:, 0], [3, 4])
    expression = ExpressionSource(seed=0)
    expression.express(0.9)
    out = expression.generate(90)
    smile, valence = EXPRESSION_LABELS.index("smile"), EXPRESSION_LABELS.index("valence")
    assert out.shape == (90, len(EXPRESSION_LABELS))
    assert out[-10:, valence].mean() > 0.7 and out[-10:, smile].mean() > 0.6


def test_devices_publish_channel_metadata(unique):
    configs = load_devices()
    for cfg in configs:
        cfg.name, cfg.source_id = f"{unique}{cfg.kind}", f"{unique}-{cfg.kind}"
    lab = SimulatedLab(configs)
    lab.start()
    try:
        found = []
        deadline = time.monotonic() + 5
        while len(found) < 4 and time.monotonic() < deadline:
            found = pylsl.resolve_bypred(f"starts-with(name,'{unique}')", 0, 1.0)
        by_type = {info.type(): info for info in found}
        assert set(by_type) == {"Gaze", "GSR", "VideoFrames", "FacialExpression"}
        inlet = pylsl.StreamInlet(by_type["Gaze"])
        info = inlet.info(timeout=5)
        channel = info.desc().child("channels").child("channel")
        labels = []
        while not channel.empty():
            labels.append((channel.child_value("label"), channel.child_value("unit")))
            channel = channel.next_sibling()
        assert labels[:3] == [("left_x", "normalized"), ("left_y", "normalized"), ("left_pupil", "mm")]
        assert len(labels) == 8
        assert info.source_id() == f"{unique}-eyetracker"
        gsr = pylsl.StreamInlet(by_type["GSR"]).info(timeout=5)
        assert gsr.desc().child("channels").child("channel").child_value("unit") == "microsiemens"
        assert gsr.nominal_srate() == 128
        webcam = pylsl.StreamInlet(by_type["VideoFrames"]).info(timeout=5)
        assert webcam.desc().child("synchronization").child_value("can_drop_samples") == "true"
    finally:
        lab.stop()


@pytest.mark.parametrize("text, field, problem", [
    ("eyetracker:\n  rate: 0\n", "eyetracker.rate", "at least"),
    ("eyetracker:\n  rat: 300\n", "eyetracker.rat", "unknown setting"),
    ("gsr:\n  rate: fast\n", "gsr.rate", "must be a number"),
    ("webcam:\n  expression: maybe\n", "webcam.expression", "true or false"),
    ("camera:\n  rate: 30\n", "camera", "unknown setting"),
    ("gsr: [1, 2]\n", "gsr", "must be a mapping"),
])
def test_device_config_errors_name_the_field(tmp_path, text, field, problem):
    path = tmp_path / "devices.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_devices(path)
    assert err.value.field == field and problem in str(err.value)
    assert str(path) in str(err.value)


def test_broken_yaml_names_the_line(tmp_path):
    path = tmp_path / "devices.yaml"
    path.write_text("gsr:\n  rate: [128\n")
    with pytest.raises(ConfigError, match="line"):
        load_devices(path)


def test_disabled_devices_are_skipped():
    configs = parse_devices({"gsr": {"enabled": False}, "webcam": {"rate": 60}}, "inline")
    assert [(c.kind, c.rate) for c in configs] == [("webcam", 60.0)]


def test_webcam_config_real_sources(tmp_path):
    (cfg,) = parse_devices({"webcam": {"source": "video", "video": "clips/rehearsal.mkv",
                                       "save_video_folder": "video"}}, tmp_path / "devices.yaml")
    assert cfg.options["video"] == tmp_path / "clips" / "rehearsal.mkv"
    assert cfg.options["save_video_folder"] == tmp_path / "video"
    (cam,) = parse_devices({"webcam": {"source": "camera", "camera": 1, "width": 1280, "height": 720}}, "inline")
    assert (cam.options["camera"], cam.options["width"], cam.options["height"]) == (1, 1280, 720)
    (default,) = parse_devices({"webcam": {}}, "inline")
    assert default.options["source"] == "simulated"  # the demo and tests need no hardware
    for bad, field in (({"source": "video"}, "webcam.video"), ({"source": "usb"}, "webcam.source"),
                       ({"camera": -1}, "webcam.camera"), ({"method": "dlib"}, "webcam.method")):
        with pytest.raises(ConfigError) as err:
            parse_devices({"webcam": bad}, tmp_path / "devices.yaml")
        assert err.value.field == field


def test_lab_starts_a_real_webcam_from_a_video_file(tmp_path, unique):
    from devices.opencv import cv2

    cv = cv2()
    video = tmp_path / "grey.avi"
    writer = cv.VideoWriter(str(video), cv.CAP_FFMPEG, cv.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for i in range(300):
        writer.write(np.full((120, 160, 3), i % 200, dtype=np.uint8))
    writer.release()
    configs = parse_devices({"webcam": {"source": "video", "video": "grey.avi", "name": unique,
                                        "source_id": unique, "save_video_folder": "video"}}, tmp_path / "devices.yaml")
    lab = SimulatedLab(configs)
    lab.start()
    try:
        assert lab.stream_names == [unique, unique + "Expression"]
        (info,) = pylsl.resolve_byprop("name", unique, 1, 10.0)
        inlet = pylsl.StreamInlet(info)
        assert inlet.info(timeout=5).desc().child("video").child_value("source").endswith("grey.avi")
        sample, stamp = inlet.pull_sample(timeout=10.0)
        assert sample is not None and sample[0] >= 0
    finally:
        lab.stop()
    (saved,) = (tmp_path / "video").glob(f"{unique}_*_video.mkv")
    assert saved.stat().st_size > 0


def test_lab_reports_a_missing_video_file(tmp_path, unique):
    configs = parse_devices({"webcam": {"source": "video", "video": "missing.mkv", "name": unique}},
                            tmp_path / "devices.yaml")
    lab = SimulatedLab(configs)
    with pytest.raises(RuntimeError, match="missing.mkv"):
        lab.start()
