"""The stimulus side's control endpoint: start, watch and stop a task over ZeroMQ (loopback only)."""
from __future__ import annotations

import sys
import time

import pytest

from stimulus.remote import StimulusControl, request, task_command


def test_start_request_becomes_the_stimulus_command():
    cmd = task_command({"protocol": "infant_face_rating", "endpoint": "tcp://127.0.0.1:5556", "speed": 4,
                        "simulate": True, "windowed": True, "events_tsv": "x_events.tsv"})
    assert cmd[0] == sys.executable and cmd[2:4] == ["stimulus", "--protocol"]
    assert cmd[cmd.index("--endpoint") + 1] == "tcp://127.0.0.1:5556"
    assert "--simulate-participant" in cmd and "--windowed" in cmd and cmd[-1] == "x_events.tsv"
    for bad in ({"endpoint": "tcp://127.0.0.1:1"}, {"protocol": "p", "endpoint": "nowhere"},
                {"protocol": "p", "endpoint": "tcp://127.0.0.1:1", "speed": 0}):
        with pytest.raises(ValueError):
            task_command(bad)


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
        deadline = time.monotonic() + 60
        while (status := request(ep, {"cmd": "status"}))["running"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == {"ok": True, "protocol": "no_such_protocol", "running": False, "returncode": 1}
        assert request(ep, {"cmd": "stop"}) == {"ok": True}
    finally:
        control.stop()
    with pytest.raises(TimeoutError):
        request(ep, {"cmd": "status"}, timeout=0.3)
