"""Test setup: loopback-only LSL and offscreen Qt, both before anything imports them."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from configs import use_lsl_config

use_lsl_config()

import pytest  # noqa: E402

from tests.support import free_port  # noqa: E402


@pytest.fixture
def unique() -> str:
    """A name part no other test (or other process on this machine) uses, so resolves stay private."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def xdf_files(tmp_path_factory) -> dict:
    """The XDF test files of tests/xdf_samples.py, made once per run (LabRecorderCLI takes seconds)."""
    import xdf_samples

    return xdf_samples.all_files(tmp_path_factory.mktemp("xdf_files"), f"x{uuid.uuid4().hex[:6]}")


@pytest.fixture
def small_disk(tmp_path):
    """A 256 kB tmpfs: a disk that fills up within seconds (Linux, as root)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("a small tmpfs needs Linux and root (mount -t tmpfs)")
    folder = tmp_path / "small"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def busy_endpoint():
    """A marker endpoint whose port another program holds."""
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield f"tcp://127.0.0.1:{port}"
