"""Two computers on a lab network, made inside the test: a network namespace joined by a veth pair.

The "remote" host runs an LSL device and a marker sender (like an eye-tracker
PC and a stimulus PC); this host records with a lab LSL config naming it as a
known peer. All traffic stays on the veth pair this test creates.
"""
from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import pyxdf

ROOT = Path(__file__).resolve().parent.parent

REMOTE = textwrap.dedent('''
    import sys, time
    import pylsl
    from sync.client import MarkerClient
    name, endpoint, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(name, "GSR", 1, 100.0, "float32", name + "-src"))
    markers = MarkerClient(endpoint, sender_id="stimpc")
    start, n, sent = time.monotonic(), 0, 0
    while time.monotonic() - start < seconds:
        outlet.push_chunk([[float(n + i)] for i in range(5)])
        n += 5
        if n % 100 == 0:
            markers.send("face_onset", trial=sent)
            sent += 1
        time.sleep(0.05)
    left = markers.close(5.0)
    print(sent, len(left))
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
    out = tmp_path / "two_hosts.xdf"
    recorder = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "--lsl-config", str(lab_config(tmp_path / "here.cfg", there)),
         "record", "--out", str(out), "--query", f"name='{unique}'", "--require", f"name='{unique}'",
         "--allow-missing", "--duration", "8", "--markers", endpoint, "--markers-allow-network"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    env = {**os.environ, "LSLAPICFG": str(lab_config(tmp_path / "there.cfg", here)), "PYTHONPATH": str(ROOT)}
    remote = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", REMOTE, unique, endpoint, "6"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    stdout, stderr = recorder.communicate(timeout=30)
    assert remote.returncode == 0, remote.stderr[-2000:]
    sent, undelivered = map(int, remote.stdout.split())
    assert recorder.returncode == 0, stderr[-2000:]
    assert undelivered == 0 and sent > 5

    streams = {s["info"]["name"][0]: s for s in pyxdf.load_xdf(str(out), synchronize_clocks=False)[0]}
    gsr = streams[unique]
    assert gsr["info"]["hostname"][0]  # the remote stream with its own header
    values = gsr["time_series"][:, 0]
    assert len(values) > 300 and (values[1:] - values[:-1] == 1).all()  # nothing lost on the way
    assert gsr["footer"]["info"]["clock_offsets"]  # measured across the link
    markers = [json.loads(v[0]) for v in streams["AttuneMarkers-stimpc"]["time_series"]]
    assert [m["trial"] for m in markers] == list(range(sent))
