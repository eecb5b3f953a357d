"""``main.py serve``: LabRecorder's remote-control commands, as lab scripts send them."""
from __future__ import annotations

import signal
import socket
import time

import pyxdf

from tests.test_record_cli import Pusher, attune
from tests.test_record_markers import free_port


def connect(port: int, timeout: float = 15.0) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10.0)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_labrecorder_script_records_through_attune(tmp_path, unique):
    pusher = Pusher(unique)
    pusher.start()
    port = free_port()
    root = tmp_path / "data"
    proc = attune("serve", "--port", str(port), "--root", str(tmp_path / "unused"), "--allow-root", str(root),
                  "--markers", "off")
    try:
        sock = connect(port)
        replies = sock.makefile("r")

        def ask(line: str) -> str:
            sock.sendall(line.encode() + b"\n")
            return replies.readline().strip()

        assert ask("select all") == "OK"
        assert ask(f"filename {{root:{root}}} {{participant:P01}} {{session:pre}} {{task:rating}} {{run:2}} "
                   "{modality:physio}") == "OK"
        assert ask("filename {participant:P 01}").startswith("ERROR: participant")
        assert ask("status") == "idle"
        assert ask("start") == "OK"
        assert ask("start").startswith("ERROR: already recording")
        time.sleep(2.0)
        assert ask("status").startswith("recording ")
        assert ask("stop") == "OK"
        assert ask("stop") == "ERROR: not recording"
        assert ask("start") == "OK"  # the same name again: the first file is renamed aside, not lost
        time.sleep(1.0)
        assert ask("stop") == "OK"
        assert ask("dance").startswith("ERROR: unknown command")
        sock.close()
    finally:
        pusher.halt.set()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    path = root / "sub-P01/ses-pre/physio/sub-P01_ses-pre_task-rating_run-2_physio.xdf"
    aside = path.with_name(path.stem + "_old1.xdf")
    assert path.exists() and aside.exists()
    for xdf in (path, aside):
        streams, _ = pyxdf.load_xdf(str(xdf), synchronize_clocks=False)
        (stream,) = [s for s in streams if s["info"]["name"][0] == unique]
        assert len(stream["time_stamps"]) > 200 and stream["footer"]


def test_ctrl_c_during_a_recording_finishes_the_file(tmp_path, unique):
    pusher = Pusher(unique)
    pusher.start()
    port = free_port()
    proc = attune("serve", "--port", str(port), "--root", str(tmp_path), "--markers", "off")
    try:
        with connect(port) as sock:
            replies = sock.makefile("r")
            for line in ("filename {template:%p_%b.xdf} {participant:P02} {task:rest}", "start"):
                sock.sendall(line.encode() + b"\n")
                assert replies.readline().strip() == "OK"
            time.sleep(1.5)
    finally:
        pusher.halt.set()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    streams, _ = pyxdf.load_xdf(str(tmp_path / "P02_rest.xdf"), synchronize_clocks=False)
    (stream,) = [s for s in streams if s["info"]["name"][0] == unique]
    assert stream["footer"] and len(stream["time_stamps"]) > 200
