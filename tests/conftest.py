"""Test setup: loopback-only LSL and offscreen Qt, both before anything imports them."""
from __future__ import annotations

import os
import uuid

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from configs import use_lsl_config  # noqa: E402

use_lsl_config()

import pytest  # noqa: E402


@pytest.fixture
def unique() -> str:
    """A name part no other test (or other process on this machine) uses, so resolves stay private."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def xdf_files(tmp_path_factory) -> dict:
    """The XDF test files of tests/xdf_samples.py, made once per run (LabRecorderCLI takes seconds)."""
    import xdf_samples

    return xdf_samples.all_files(tmp_path_factory.mktemp("xdf_files"), f"x{uuid.uuid4().hex[:6]}")
