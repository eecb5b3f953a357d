"""``main.py stimulus`` as a lab runs it: a separate process sending markers to a recording."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import pyxdf
import yaml

from acquisition.recorder import Recorder
from stimulus.events_tsv import read_events_tsv
from sync.server import MarkerServer

ROOT = Path(__file__).resolve().parents[1]


def stimulus(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Run ``main.py stimulus`` with this test's environment (offscreen Qt, loopback LSL)."""
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "stimulus", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def short_training(tmp_path: Path) -> Path:
    data = yaml.safe_load((ROOT / "configs/protocols/emotion_training.yaml").read_text(encoding="utf-8"))
    data["blocks"] = [{"name": "t1", "trials": 5}, {"name": "t2", "trials": 5}]
    path = tmp_path / "short_training.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_cli_runs_a_protocol_headless_into_a_recording(tmp_path, unique):
    recorder = Recorder(tmp_path / "session.xdf", [f"name='{unique}-no-lsl-stream'"])
    recorder.start()
    server = MarkerServer(recorder, "tcp://127.0.0.1:*", relay=False).start()
    tsv = tmp_path / "events.tsv"
    try:
        done = stimulus("--protocol", str(short_training(tmp_path)), "--windowed", "--size", "640x400",
                        "--simulate-participant", "--speed", "50", "--endpoint", server.endpoint,
                        "--events-tsv", str(tsv))
    finally:
        server.stop()
        recorder.stop()
    assert done.returncode == 0, done.stderr
    assert "10 trials, 10 answered" in done.stdout
    assert "t1:" in done.stdout and "t2:" in done.stdout  # the block summaries
    streams, _ = pyxdf.load_xdf(str(recorder.path), synchronize_clocks=False, dejitter_timestamps=False)
    markers = next(s for s in streams if s["info"]["name"][0] == "AttuneMarkers-stimulus")
    events = [json.loads(v[0]) for v in markers["time_series"]]
    assert [e["event"] for e in events].count("face_onset") == 10
    assert events[0]["event"] == "protocol_start" and events[-1]["event"] == "protocol_end"
    rows = read_events_tsv(tsv)
    faces = [r for r in rows if r["trial_type"] == "face"]
    assert len(faces) == 10
    onsets = [t for e, t in zip(events, markers["time_stamps"]) if e["event"] == "face_onset"]
    assert [float(r["lsl_time"]) for r in faces] == pytest.approx(list(onsets), abs=1e-6)
    first = markers["time_stamps"][0]  # protocol_start: the live file's onset origin
    assert [float(r["onset"]) for r in faces] == pytest.approx([t - first for t in onsets], abs=1e-6)


def test_cli_rating_rehearsal_without_markers_prints_means_per_morph(tmp_path):
    data = yaml.safe_load((ROOT / "configs/protocols/infant_face_rating.yaml").read_text(encoding="utf-8"))
    data["blocks"] = [{"name": "r", "identities": ["A"]}]
    protocol = tmp_path / "one_block.yaml"
    protocol.write_text(yaml.safe_dump(data), encoding="utf-8")
    done = stimulus("--protocol", str(protocol), "--windowed", "--size", "640x400", "--simulate-participant",
                    "--speed", "100", "--no-markers", "--events-tsv", str(tmp_path / "r.tsv"))
    assert done.returncode == 0, done.stderr
    lines = [row for row in done.stdout.splitlines() if "mean rating" in row]
    assert len(lines) == 9 and lines[0].strip().startswith("morph -1.00")


def test_cli_bad_protocol_path_exits_1_naming_it(tmp_path):
    missing = tmp_path / "nope.yaml"
    done = stimulus("--protocol", str(missing), "--windowed", "--no-markers")
    assert done.returncode == 1
    assert str(missing) in done.stderr and "no such protocol file" in done.stderr
    assert not list(Path(ROOT).glob("nope_*_events.tsv"))


def test_cli_bad_field_exits_1_naming_file_and_field(tmp_path):
    data = yaml.safe_load((ROOT / "configs/protocols/infant_face_rating.yaml").read_text(encoding="utf-8"))
    data["timing"]["response_timeout"] = "forever"
    protocol = tmp_path / "typo.yaml"
    protocol.write_text(yaml.safe_dump(data), encoding="utf-8")
    done = stimulus("--protocol", str(protocol), "--windowed", "--no-markers")
    assert done.returncode == 1
    assert "typo.yaml: timing.response_timeout" in done.stderr


def test_cli_names_the_screens_there_are_when_asked_for_one_that_is_not(tmp_path):
    done = stimulus("--protocol", "infant_face_rating", "--screen", "7", "--no-markers",
                    "--events-tsv", str(tmp_path / "x.tsv"))
    assert done.returncode == 1
    assert "no screen 7; this computer has 0: " in done.stderr
    assert not (tmp_path / "x.tsv").exists()


def test_stimulus_control_refuses_the_network_unless_asked():
    done = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "main.py"),
                           "stimulus-control", "--bind", "tcp://0.0.0.0:5599"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "stimulus control:" in done.stderr and "0.0.0.0" in done.stderr


def test_cli_without_a_recorder_warns_at_start_and_exits_4_when_markers_were_lost(tmp_path):
    from tests.support import free_port

    endpoint = f"tcp://127.0.0.1:{free_port()}"  # nobody listens here
    done = stimulus("--protocol", str(short_training(tmp_path)), "--windowed", "--size", "640x400",
                    "--simulate-participant", "--speed", "100", "--endpoint", endpoint,
                    "--events-tsv", str(tmp_path / "lost.tsv"))
    assert done.returncode == 4, done.stderr
    warning, _, rest = done.stderr.partition("no recorder is listening for markers on " + endpoint)
    assert _ and "error:" not in warning  # the warning comes before anything else goes wrong
    assert "markers were not confirmed by a recorder" in rest
    assert rest.count("not confirmed") + rest.count("not delivered") == 1  # said once, not twice
    assert (tmp_path / "lost.tsv").exists()
