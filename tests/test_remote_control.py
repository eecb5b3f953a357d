"""``main.py serve``: LabRecorder's remote-control commands, as lab scripts send them."""
from __future__ import annotations

import signal
import socket
import time

import pytest
import pyxdf

from acquisition.remote_control import RemoteControl
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


def ask_all(sock: socket.socket, lines: list[str]) -> list[str]:
    replies = sock.makefile("r")
    out = []
    for line in lines:
        sock.sendall(line.encode() + b"\n")
        out.append(replies.readline().strip())
    return out


def test_remote_file_names_stay_inside_the_chosen_folders(tmp_path):
    root, extra, outside = tmp_path / "root", tmp_path / "extra", tmp_path / "outside"
    for folder in (root, extra, outside):
        folder.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    victim = tmp_path / "x_P001.xdf"
    victim.write_bytes(b"an older recording")
    control = RemoteControl(root, marker_endpoint=None, port=0, allow_roots=[extra]).start()
    try:
        with socket.create_connection(control.address[:2], timeout=10) as sock:
            refused = ask_all(sock, [
                "filename {template:../x_%p.xdf}",
                f"filename {{template:{tmp_path}/x_%p.xdf}}",
                "filename {template:..\\x_%p.xdf}",
                "filename {template:C:\\x_%p.xdf}",
                "filename {root:/elsewhere}",
                f"filename {{root:{outside}}}",
                "filename {template:link/%p.xdf}",
            ])
            accepted = ask_all(sock, [f"filename {{root:{extra}}}", "filename {template:exp1\\%p_%b.xdf}",
                                      "status"])
    finally:
        control.close()
    for reply in refused:
        assert reply.startswith("ERROR: ") and ("folder" in reply or "relative" in reply), reply
    assert accepted == ["OK", "OK", "idle"]
    assert control.state.root == extra.resolve() and control.state.template == "exp1/%p_%b.xdf"
    assert victim.read_bytes() == b"an older recording"
    assert not list(outside.iterdir())


def test_every_line_gets_a_bounded_answer(tmp_path):
    control = RemoteControl(tmp_path, marker_endpoint=None, port=0).start()
    try:
        with socket.create_connection(control.address[:2], timeout=10) as sock:
            assert ask_all(sock, ["   ", "status\0", "status"]) == [
                "ERROR: empty command (select all|none, update, filename, start, stop, status)",
                "ERROR: a command must not contain NUL bytes", "idle"]
        with socket.create_connection(control.address[:2], timeout=10) as sock:
            try:
                sock.sendall(b"x" * 1_000_000)  # no newline: the server reads no more than its cap
            except OSError:
                pass  # it may hang up before taking it all
            reply = sock.makefile("rb").read()
        assert reply == b"ERROR: line longer than 8192 bytes; closing\n"
        with socket.create_connection(control.address[:2], timeout=10) as sock:
            huge = "dance " + "y" * 5000
            (answer,) = ask_all(sock, [huge])
        assert answer.startswith("ERROR: unknown command") and len(answer) < 300
    finally:
        control.close()


def test_listening_beyond_loopback_needs_a_token(tmp_path):
    with pytest.raises(ValueError, match="token"):
        RemoteControl(tmp_path, marker_endpoint=None, host="0.0.0.0", port=0)
    token = "a-secret-of-enough-length"
    control = RemoteControl(tmp_path, marker_endpoint=None, host="0.0.0.0", port=0, token=token).start()
    try:
        with socket.create_connection(("127.0.0.1", control.address[1]), timeout=10) as sock:
            assert ask_all(sock, ["status", "auth wrong-secret", "start", f"auth {token}", "status"]) == [
                "ERROR: authenticate first: auth <token>", "ERROR: authenticate first: auth <token>",
                "ERROR: authenticate first: auth <token>", "OK", "idle"]
    finally:
        control.close()
    proc = attune("serve", "--host", "0.0.0.0", "--port", str(free_port()), "--root", str(tmp_path))
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--token-file" in stderr
