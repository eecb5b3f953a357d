"""``main.py record`` with its marker server: markers from a script land in the same file, once."""
from __future__ import annotations

import json
import signal
import socket

import pyxdf

from sync.client import MarkerClient
from tests.support import Pusher, attune, free_port, wait_for_data


def test_markers_sent_during_a_recording_are_in_its_file_once(tmp_path, unique):
    pusher = Pusher(unique)
    pusher.start()
    out = tmp_path / "with_markers.xdf"
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    proc = attune("record", "--out", str(out), "--markers", endpoint)
    try:
        wait_for_data(out, proc)
        with MarkerClient(endpoint, sender_id=unique) as client:
            for trial in range(20):
                client.send("face_onset", trial=trial, morph=trial % 9)
            undelivered = client.close(timeout=5.0)
        assert undelivered == []
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=10)
    finally:
        pusher.halt.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "markers: 20 recorded from 1 sender(s)" in stdout
    streams, _ = pyxdf.load_xdf(str(out), synchronize_clocks=False, dejitter_timestamps=False)
    names = [s["info"]["name"][0] for s in streams]
    assert f"AttuneMarkers-{unique}" in names
    assert not [n for n in names if n.startswith("AttuneMarkerRelay")], names  # the LSL copy is not stored
    (markers,) = [s for s in streams if s["info"]["name"][0] == f"AttuneMarkers-{unique}"]
    values = [json.loads(v[0]) for v in markers["time_series"]]
    assert [v["trial"] for v in values] == list(range(20))
    assert [v["morph"] for v in values] == [t % 9 for t in range(20)]
    assert {v["event"] for v in values} == {"face_onset"}


def test_a_network_marker_endpoint_must_be_asked_for(tmp_path):
    out = tmp_path / "refused.xdf"
    proc = attune("record", "--out", str(out), "--markers", "tcp://0.0.0.0:5599", "--duration", "1")
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "--markers" in stderr and "beyond loopback" in stderr
    assert not out.exists()


def test_a_busy_marker_port_is_named_and_leaves_no_file(tmp_path):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        out = tmp_path / "busy.xdf"
        proc = attune("record", "--out", str(out), "--markers", f"tcp://127.0.0.1:{port}", "--duration", "1")
        stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"cannot receive markers on tcp://127.0.0.1:{port}" in stderr
    assert not out.exists()
