"""Two computers on a lab network, made inside the test: a network namespace joined by a veth pair.

The "remote" host runs an LSL device and a marker sender (like an eye-tracker
PC and a stimulus PC); this host records with a lab LSL config naming it as a
known peer. All traffic stays on the veth pair this test creates.
"""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import pyxdf

from sync.keys import make_key

ROOT = Path(__file__).resolve().parent.parent

REMOTE = textwrap.dedent('''
    import sys, time
    import pylsl
    from sync.client import MarkerClient
    from sync.keys import client_keys
    name, endpoint, keys, chunks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "GSR", 1, 100.0, "float32", name + "-src"))
    markers = MarkerClient(endpoint, sender_id="stimpc", keys=client_keys(keys, "stimpc"))
    if not outlet.wait_for_consumers(120):
        sys.exit("the recorder never connected")
    sent = 0
    for chunk in range(chunks):  # a fixed amount of data, however slow the machine is
        outlet.push_chunk([[float(chunk * 5 + i)] for i in range(5)])
        if chunk % 20 == 0:
            markers.send("face_onset", trial=sent)
            sent += 1
        time.sleep(0.01)  # pacing only; nothing depends on how long this takes
    left = markers.close(60.0)
    print(sent, len(left), flush=True)
    sys.stdin.readline()  # keep the outlet until the recorder has stopped
''')


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture
def remote_host(unique):
    """A second host: namespace + veth, 10.231.N.1 here and 10.231.N.2 there."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    ns, here, there = f"attune-{unique}", f"va{unique[-8:]}", f"vb{unique[-8:]}"
    net = f"10.231.{random.randint(1, 250)}"
    try:
        run("ip", "netns", "add", ns)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make a network namespace here: {exc}")
    try:
        run("ip", "link", "add", here, "type", "veth", "peer", "name", there)
        run("ip", "link", "set", there, "netns", ns)
        run("ip", "addr", "add", f"{net}.1/30", "dev", here)
        run("ip", "link", "set", here, "up")
        run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{net}.2/30", "dev", there)
        run("ip", "netns", "exec", ns, "ip", "link", "set", there, "up")
        run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield ns, f"{net}.1", f"{net}.2"
    finally:
        subprocess.run(["ip", "link", "del", here], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def lab_config(path: Path, peer: str) -> Path:
    path.write_text(f"[ports]\nIPv6 = disable\n\n[multicast]\nResolveScope = machine\n\n"
                    f"[lab]\nKnownPeers = {{{peer}}}\n")
    return path


def test_streams_and_markers_from_another_computer_are_recorded(tmp_path, unique, remote_host):
    ns, here, there = remote_host
    with socket.socket() as probe:  # a free port on this host's lab address
        probe.bind((here, 0))
        port = probe.getsockname()[1]
    endpoint = f"tcp://{here}:{port}"
    keys = tmp_path / "keys"  # the marker bus is open to the (test) network, so senders need a key
    make_key(keys, "server")
    make_key(keys, "stimpc")
    out = tmp_path / "two_hosts.xdf"
    recorder = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "--lsl-config", str(lab_config(tmp_path / "here.cfg", there)),
         "record", "--out", str(out), "--query", f"name='{unique}'", "--require", f"name='{unique}'",
         "--allow-missing", "--markers", endpoint, "--markers-allow-network", "--markers-keys", str(keys)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    env = {**os.environ, "LSLAPICFG": str(lab_config(tmp_path / "there.cfg", here)), "PYTHONPATH": str(ROOT)}
    chunks = 120
    remote = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", REMOTE, unique, endpoint,
                               str(keys), str(chunks)],
                              cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        report = remote.stdout.readline()  # once every marker is acknowledged as recorded
        assert report, remote.communicate(timeout=60)[1][-2000:]
        sent, undelivered = map(int, report.split())
        recorder.send_signal(signal.SIGINT)
        stdout, stderr = recorder.communicate(timeout=120)
    finally:
        recorder.kill()
        remote.communicate("stop\n", timeout=60)
    assert recorder.returncode == 0, stderr[-2000:]
    assert remote.returncode == 0
    assert undelivered == 0 and sent == chunks // 20

    streams = {s["info"]["name"][0]: s for s in pyxdf.load_xdf(str(out), synchronize_clocks=False)[0]}
    gsr = streams[unique]
    assert gsr["info"]["hostname"][0]  # the remote stream with its own header
    values = gsr["time_series"][:, 0]
    assert values[0] == 0 and len(values) > 300  # from the first sample on (the outlet waited for us)
    assert (values[1:] - values[:-1] == 1).all()  # and nothing lost on the way
    assert gsr["footer"]["info"]["clock_offsets"]  # measured across the link
    markers = [json.loads(v[0]) for v in streams["AttuneMarkers-stimpc"]["time_series"]]
    assert [m["trial"] for m in markers] == list(range(sent))
