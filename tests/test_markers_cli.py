"""``main.py markers send`` and ``markers listen`` as a user runs them in two terminals."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[1]


def markers(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), "markers", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_send_without_a_server_fails_once_and_exits_1():
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    send = markers("send", "trial_start", "--endpoint", endpoint, "--timeout", "0.5")
    out, err = send.communicate(timeout=60)
    assert send.returncode == 1
    assert err.count(endpoint) == 1 and "not delivered" in err, err


def test_listen_prints_each_marker_once_in_order_and_says_nothing_was_recorded():
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    listen = markers("listen", "--endpoint", endpoint, "--no-relay")
    try:
        for n in range(3):
            send = markers("send", f"step{n}", "-f", f"n={n}", "--endpoint", endpoint, "--timeout", "20")
            _, err = send.communicate(timeout=60)
            assert send.returncode == 0, err
    finally:
        listen.send_signal(signal.SIGINT)  # Ctrl-C, as the help says
    out, err = listen.communicate(timeout=30)
    assert listen.returncode == 0, err
    lines = [ln for ln in out.splitlines() if "AttuneMarkers-cli" in ln]
    assert len(lines) == 3, out
    for n, line in enumerate(lines):
        assert f'"event":"step{n}"' in line
    stamps = [float(ln.split()[0]) for ln in lines]
    assert stamps == sorted(stamps)  # one time column, one clock per sender: in order
    clock = [ln for ln in out.splitlines() if "clock" in ln]
    assert clock and all(ln.lstrip().startswith("AttuneMarkerClock-cli: clock estimate") for ln in clock), out
    assert "printed, not recorded" in err
    assert "printed 3 markers (nothing recorded)" in err, err
