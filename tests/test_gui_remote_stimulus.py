"""The stimulus side's control endpoint: start, watch and stop a task over ZeroMQ (loopback only)."""
from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest
import zmq

from stimulus.remote import StimulusControl, request, task_command
from tests.test_record_cli import attune
from tests.test_record_markers import free_port
from tests.test_recording_faults import read_until


def test_start_request_becomes_the_stimulus_command(tmp_path):
    cmd = task_command({"protocol": "infant_face_rating", "endpoint": "tcp://127.0.0.1:5556", "speed": 4,
                        "simulate": True, "windowed": True, "events_tsv": str(tmp_path / "x_events.tsv")},
                       [tmp_path])
    assert cmd[0] == sys.executable and cmd[2:4] == ["stimulus", "--protocol=infant_face_rating"]
    assert "--endpoint=tcp://127.0.0.1:5556" in cmd
    assert "--simulate-participant" in cmd and "--windowed" in cmd
    assert cmd[-1] == f"--events-tsv={tmp_path.resolve() / 'x_events.tsv'}"
    for bad in ({"endpoint": "tcp://127.0.0.1:1"}, {"protocol": "p", "endpoint": "nowhere"},
                {"protocol": "p", "endpoint": "tcp://127.0.0.1:1", "speed": 0},
                {"protocol": "--windowed", "endpoint": "tcp://127.0.0.1:1"},
                {"protocol": "../../elsewhere/p.yaml", "endpoint": "tcp://127.0.0.1:1"}):
        with pytest.raises(ValueError):
            task_command(bad, [tmp_path])


@pytest.mark.parametrize("events", ["/etc/x_events.tsv", "../x_events.tsv", "{root}/../x_events.tsv",
                                    "{root}/link/x_events.tsv", "{root}/x_events.py"])
def test_events_tsv_must_stay_inside_the_events_folder(tmp_path, events):
    root = tmp_path / "recordings"
    root.mkdir()
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    request = {"protocol": "p", "endpoint": "tcp://127.0.0.1:1", "events_tsv": events.format(root=root)}
    with pytest.raises(ValueError, match="events_tsv"):
        task_command(request, [root])


def test_no_request_can_stop_the_control_endpoint(tmp_path):
    control = StimulusControl("tcp://127.0.0.1:*", events_roots=[tmp_path]).start()
    try:
        sock = zmq.Context.instance().socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(control.endpoint)
        for raw in (b"[" * 200_000 + b"]" * 200_000, b'{"cmd": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                    b"\xff\xfe", b"x" * 1_000_000):
            sock.send(raw)
            assert sock.poll(10_000), "no answer"
            reply = json.loads(sock.recv())
            assert reply["ok"] is False and reply["error"]
        sock.close()
        outside = request(control.endpoint, {"cmd": "start", "protocol": "p", "endpoint": "tcp://127.0.0.1:9",
                                             "events_tsv": str(tmp_path.parent / "x_events.tsv")})
        assert outside["ok"] is False and "outside the allowed folder" in outside["error"]
        assert request(control.endpoint, {"cmd": "status"})["ok"] is True
    finally:
        control.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to see the task process")
def test_sigterm_ends_the_running_task_too(tmp_path):
    port = free_port()
    proc = attune("stimulus-control", "--bind", f"tcp://127.0.0.1:{port}", "--events-root", str(tmp_path))
    child = None
    try:
        read_until(proc, "listening")
        reply = request(f"tcp://127.0.0.1:{port}", {"cmd": "start", "protocol": "infant_face_rating",
                                                     "endpoint": f"tcp://127.0.0.1:{free_port()}",
                                                     "windowed": True, "simulate": True})
        assert reply["ok"], reply
        child = reply["pid"]
        assert request(f"tcp://127.0.0.1:{port}", {"cmd": "status"})["running"]
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert not alive(child), "the task outlived its control process"


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_control_endpoint_runs_a_task_and_reports_it():
    with pytest.raises(ValueError):
        StimulusControl("tcp://0.0.0.0:5570")  # beyond loopback only when asked for
    control = StimulusControl("tcp://127.0.0.1:*").start()
    try:
        ep = control.endpoint
        assert "infant_face_rating" in request(ep, {"cmd": "protocols"})["protocols"]
        assert request(ep, {"cmd": "start", "protocol": "p"}) == {
            "ok": False, "error": "start: 'endpoint' must be the marker server's tcp:// address"}
        assert not request(ep, {"cmd": "dance"})["ok"]
        # An unknown protocol: the task starts, says so and exits 1; status reports it.
        reply = request(ep, {"cmd": "start", "protocol": "no_such_protocol", "endpoint": "tcp://127.0.0.1:9"})
        assert reply["ok"] and reply["pid"] > 0
        deadline = time.monotonic() + 20
        while (status := request(ep, {"cmd": "status"}))["running"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == {"ok": True, "protocol": "no_such_protocol", "running": False, "returncode": 1}
        assert request(ep, {"cmd": "stop"}) == {"ok": True}
    finally:
        control.stop()
    with pytest.raises(TimeoutError):
        request(ep, {"cmd": "status"}, timeout=0.3)
