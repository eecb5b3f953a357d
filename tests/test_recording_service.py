"""One recording service, one policy: a start that cannot record markers fails, in serve and the panel alike.

(``main.py record`` with a busy port: tests/test_record_markers.py.)
"""
from __future__ import annotations

import socket
from pathlib import Path

import pytest
import pyxdf

from acquisition.recorder import Recorder
from acquisition.remote_control import RemoteControl
from acquisition.service import RecordingService
from sync.client import MarkerClient
from tests.test_record_cli import Pusher
from tests.test_record_markers import free_port


@pytest.fixture
def busy_endpoint():
    """A marker endpoint whose port another program holds."""
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield f"tcp://127.0.0.1:{port}"


def test_serve_answers_error_and_records_nothing_when_the_marker_port_is_busy(tmp_path, busy_endpoint):
    control = RemoteControl(tmp_path, marker_endpoint=busy_endpoint, port=0, wait=0.2).start()
    try:
        assert control.execute("filename {template:busy.xdf}") == "OK"
        reply = control.execute("start")
        assert reply.startswith(f"ERROR: cannot receive markers on {busy_endpoint}")
        assert control.execute("status") == "idle"
        assert control.execute("stop") == "ERROR: not recording"
    finally:
        control.close()
    assert not (tmp_path / "busy.xdf").exists()


def test_the_panel_job_does_not_start_when_the_marker_port_is_busy(tmp_path, busy_endpoint):
    from gui.recording_job import FAILED, RecordingJob

    job = RecordingJob()
    job.start(tmp_path / "busy.xdf", [], [], busy_endpoint)
    job.join(30)
    assert job.snapshot.state == FAILED
    assert f"did not start: cannot receive markers on {busy_endpoint}" in job.snapshot.error
    assert not (tmp_path / "busy.xdf").exists()


class Crash(BaseException):
    """What kills the marker server's loop (anything its own handlers do not catch)."""


class CrashingSink:
    """Records into the recorder, but the marker stream dies on its first marker."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def add_stream(self, info_xml: str, fmt: str, nominal_srate: float):
        stream = self.recorder.add_stream(info_xml, fmt, nominal_srate)

        class Handle:
            def push(self, stamps, values) -> None:
                raise Crash("the marker stream broke")

            def clock_offset(self, collection_time: float, offset: float) -> None:
                stream.clock_offset(collection_time, offset)

        return Handle()


def test_a_marker_server_that_fails_to_close_still_leaves_a_finished_file(tmp_path, unique):
    pusher = Pusher(unique)
    pusher.start()
    service = RecordingService(f"tcp://127.0.0.1:{free_port()}", marker_sink=CrashingSink)
    try:
        path = service.start(tmp_path / "closing.xdf", [f"name='{unique}'"])
        client = MarkerClient(service.status().markers, sender_id=unique)
        client.send("face_onset")
        client.close(timeout=1.0)  # never acknowledged: the server's loop is dead
        result = service.stop()
    finally:
        pusher.halt.set()
    assert "the marker server did not close cleanly" in result.error
    assert not service.recording and result.path == Path(path)
    streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=False)
    (stream,) = [s for s in streams if s["info"]["name"][0] == unique]
    assert stream["footer"] and int(stream["footer"]["info"]["sample_count"][0]) == len(stream["time_stamps"]) > 0
