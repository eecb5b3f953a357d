"""``main.py analyze`` on training sessions with live feedback, recorded through the real chain.

Two training sessions of one participant run against scripted LSL outlets,
their markers going stimulus -> MarkerClient -> MarkerServer -> Recorder ->
XDF: in the first she looks beside the face until a cue shows her the eyes;
in the second she looks at the eyes at once, then the mouth. The report must tell them apart.
"""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from acquisition.recorder import Recorder
from analysis import regions
from stimulus.participant import SimulatedParticipant
from stimulus.protocol import load_protocol
from stimulus.runner import run_protocol
from sync.client import MarkerClient
from sync.server import MarkerServer
from tests.feedback_support import OFF_FACE, Reacting, Scripted, feedback_window, training  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def record_session(path: Path, protocol: Path, win, react) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(path, [f"name='{path.stem}-no-lsl-stream'"])
    recorder.start()
    server = MarkerServer(recorder, "tcp://127.0.0.1:*", relay=False).start()
    client = MarkerClient(server.endpoint, sender_id=path.stem)
    try:
        run_protocol(load_protocol(protocol), _Both(client, Reacting(react)), window=win, speed=4.0,
                     participant=SimulatedParticipant(seed=2))
    finally:
        assert client.close(5.0) == []
        server.stop()
        recorder.stop()


class _Both:
    def __init__(self, *sinks) -> None:
        self.sinks = sinks

    def send(self, event, timestamp=None, **fields) -> None:
        for s in self.sinks:
            s.send(event, timestamp=timestamp, **fields)


def test_analysis_reports_feedback_per_training_session_and_the_change(window, unique, tmp_path):
    outlets = Scripted(unique)
    outlets.start()
    rect: list[float] = []
    try:
        protocol = training(tmp_path, unique, trials=4)
        for session, looks_at_once in (("t1", False), ("t2", True)):
            def react(event: str, fields: dict, looks_at_once=looks_at_once) -> None:
                if event == "face_onset":
                    rect[:] = fields["face_rect"]
                    outlets.gaze_point = regions.region_centre("eyes", tuple(rect)) if looks_at_once else OFF_FACE
                elif event == "feedback_cue_on":
                    outlets.gaze_point = regions.region_centre("eyes", tuple(rect))
                elif event == "feedback_look" and fields["region"] == "eyes" and looks_at_once:
                    outlets.gaze_point = regions.region_centre("mouth", tuple(rect))
                elif event == "face_offset":
                    outlets.gaze_point = OFF_FACE
            record_session(tmp_path / "rec" / f"sub-01_ses-{session}_task-training_run-1.xdf", protocol, window, react)
    finally:
        outlets.stop()
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "main.py", "analyze", str(tmp_path / "rec"), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(out / "summary_feedback.tsv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert [(r["participant"], r["session"]) for r in rows] == [("01", "t1"), ("01", "t2")]
    first, second = rows
    assert (first["faces"], first["cued_faces"], first["cues"]) == ("4", "4", "4")
    assert (second["faces"], second["cued_faces"], second["cues"]) == ("4", "0", "0")
    assert float(first["first_eyes_s"]) > 0.6 / 4 > float(second["first_eyes_s"])  # after the cue vs at once
    assert float(first["looked_eyes_rate"]) == float(second["looked_eyes_rate"]) == 1.0
    assert first["dwell_uncued_s"] == "" and second["dwell_cued_s"] == ""  # all cued / none cued
    assert first["first_mouth_s"] == "" and float(second["first_mouth_s"]) > float(second["first_eyes_s"])
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Live feedback in training" in report and "Change from the first to the last training session" in report
