"""The simulated body reacts to face onsets on the real device streams."""
from __future__ import annotations

import time

import numpy as np
import pylsl

from devices.body import FaceRegions, SimulatedBody
from devices.lab import DeviceConfig, SimulatedLab


def pull_all(inlet: pylsl.StreamInlet, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    chunks, stamps = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data, ts = inlet.pull_chunk(timeout=0.1)
        chunks.extend(data)
        stamps.extend(ts)
    return np.asarray(chunks), np.asarray(stamps)


def test_face_onset_brings_gaze_to_the_face_and_an_scr_about_two_seconds_later(unique):
    lab = SimulatedLab([DeviceConfig("eyetracker", 300.0, f"{unique}ET", f"{unique}-et", 1),
                        DeviceConfig("gsr", 128.0, f"{unique}GSR", f"{unique}-gsr", 2)])
    lab.gsr.spontaneous_per_sample = 0.0  # only the stimulus-locked response
    lab.start()
    try:
        regions = FaceRegions.centred(face_height=0.55, aspect=1.6)
        body = SimulatedBody(lab, regions, scr_latency=2.0, scr_amplitude=0.5)
        (et_info,) = pylsl.resolve_byprop("source_id", f"{unique}-et", 1, 5.0)
        (gsr_info,) = pylsl.resolve_byprop("source_id", f"{unique}-gsr", 1, 5.0)
        et, gsr = pylsl.StreamInlet(et_info), pylsl.StreamInlet(gsr_info)
        et.open_stream(), gsr.open_stream()
        pull_all(et, 0.5), pull_all(gsr, 0.5)
        onset = pylsl.local_clock()
        body.send("face_onset", morph=1.0)
        gaze, gaze_t = pull_all(et, 1.5)
        body.send("face_offset")
        skin, skin_t = pull_all(gsr, 3.5)
    finally:
        lab.stop()
    late = (gaze_t > onset + 0.6) & ~np.isnan(gaze[:, 0])
    features = np.array([*regions.eyes, regions.mouth])
    distance = np.min(np.linalg.norm(gaze[late, None, :2] - features[None], axis=2), axis=1)
    assert np.median(distance) < 0.03  # fixating the eyes or mouth, not the free-viewing spread
    peak = skin_t[np.argmax(skin[:, 0])] - onset
    rise = skin[:, 0].max() - skin[skin_t < onset + 1.0, 0].mean()
    assert 2.0 < peak < 4.5 and rise > 0.4


def test_devices_follow_the_faces_a_marker_server_relays(tmp_path, unique):
    from acquisition.recorder import Recorder
    from devices.body import MarkerFollower
    from sync.client import MarkerClient
    from sync.server import MarkerServer
    from sync.streams import RELAY_PREDICATE

    lab = SimulatedLab([DeviceConfig("eyetracker", 300.0, f"{unique}ET", f"{unique}-et", 1)])
    lab.start()
    follower = MarkerFollower(SimulatedBody(lab), predicate=f"{RELAY_PREDICATE} and contains(source_id,'{unique}')")
    follower.start()
    recorder = Recorder(tmp_path / "relay.xdf", [f"name='{unique}ET'"])
    recorder.start()
    server = MarkerServer(recorder, "tcp://127.0.0.1:*").start()
    client = MarkerClient(server.endpoint, sender_id=unique)
    try:
        (et_info,) = pylsl.resolve_byprop("source_id", f"{unique}-et", 1, 5.0)
        et = pylsl.StreamInlet(et_info)
        et.open_stream()
        client.send("protocol_start")  # the relay outlet appears with the first marker
        deadline = time.monotonic() + 60.0
        while follower.followed == 0 and time.monotonic() < deadline:
            client.send("still_here")
            time.sleep(0.5)
        assert follower.followed > 0, "the follower never saw the relay"
        rect = [0.1, 0.1, 0.4, 0.6]  # a face drawn off-centre: the gaze must go there, not to the middle
        pull_all(et, 0.2)
        onset = pylsl.local_clock()
        client.send("face_onset", morph=0.5, face_rect=rect)
        gaze, stamps = pull_all(et, 1.5)
    finally:
        client.close()
        server.close()
        recorder.stop()
        follower.stop()
        lab.stop()
    late = (stamps > onset + 0.7) & ~np.isnan(gaze[:, 0])
    x, y = np.median(gaze[late, 0]), np.median(gaze[late, 1])
    assert 0.1 < x < 0.4 and 0.1 < y < 0.6
