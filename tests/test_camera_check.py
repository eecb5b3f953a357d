"""``main.py devices check --camera N | --video FILE``: real fps and dropped frames, pass/fail, exit codes."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from devices.camera_check import evaluate_camera, measure_camera
from devices.check import passed
from devices.video import VideoFileSource
from tests.astronaut_video import FPS, base_frame, write_video

MAIN = Path(__file__).resolve().parents[1] / "main.py"


@pytest.fixture(scope="module")
def two_seconds(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("camera_check") / "two_seconds.avi", [base_frame()] * int(2 * FPS))


def attune(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MAIN), *args], capture_output=True, text=True, timeout=120)


def verdicts(stdout: str) -> dict[str, str]:
    """check name -> PASS/FAIL/info from the printed table."""
    rows = {}
    for line in stdout.splitlines():
        for check in ("frames", "video file format", "real frame rate", "dropped frames"):
            if line.strip().startswith(check + " "):
                rows[check] = line.split()[-1]
    return rows


def test_video_file_passes_with_its_frames_counted(two_seconds):
    done = attune("devices", "check", "--video", str(two_seconds), "--seconds", "30")
    shown, dropped, total = map(int, re.search(r"frames +(\d+) in .*dropped frames +(\d+) of (\d+)",
                                               done.stdout, re.S).groups())
    assert total == shown + dropped == int(2 * FPS)  # every frame of the file: delivered or counted lost
    assert "source ended" in done.stdout and "640x480 @ 30 fps" in done.stdout
    rows = verdicts(done.stdout)
    assert rows["frames"] == "PASS" and rows["video file format"] == "info"
    if dropped == 0:  # a machine too busy to keep up loses frames, and then the check must say so
        assert rows == {"frames": "PASS", "video file format": "info", "real frame rate": "PASS",
                        "dropped frames": "PASS"}
        assert done.returncode == 0, done.stdout + done.stderr
    else:
        assert done.returncode == 1 and "FAIL" in done.stdout


def test_missing_camera_is_a_clear_error():
    done = attune("devices", "check", "--camera", "97", "--seconds", "1")
    assert done.returncode == 2
    assert "error: camera 97: cannot be opened" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_video_and_stream_with_camera_are_refused(tmp_path, two_seconds):
    done = attune("devices", "check", "--video", str(tmp_path / "none.avi"), "--seconds", "1")
    assert done.returncode == 2 and "no such video file" in done.stderr
    done = attune("devices", "check", "GSR", "--video", str(two_seconds), "--seconds", "1")
    assert done.returncode == 2 and "not both" in done.stderr


def test_a_pipeline_that_falls_behind_fails_on_rate_and_drops(two_seconds):
    """The source's clock runs 1.5 frame periods per look, so playback is always late and skips
    frames the way a camera's full queue does; the check must count them and fail."""
    now = [0.0]

    def late_clock() -> float:
        now[0] += 1.5 / FPS
        return now[0]

    source = VideoFileSource(two_seconds, clock=late_clock)
    try:
        m = measure_camera(source, seconds=30)
    finally:
        source.close()
    assert m.ended and m.frames + m.dropped == int(2 * FPS)  # every frame of the file: shown or counted lost
    rows = {r.check: r for r in evaluate_camera(m)}
    assert m.dropped > m.frames
    assert rows["dropped frames"].ok is False and rows["real frame rate"].ok is False
    assert not passed(list(rows.values()))
