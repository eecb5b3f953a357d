"""The recording summary: a measured rate only where one means something."""
from __future__ import annotations

from acquisition.recorder import StreamStatus
from acquisition.service import summary_table


def row(name: str, nominal: float, samples: int, measured: float) -> StreamStatus:
    return StreamStatus(1, name, "T", "host", "id", 1, nominal, samples, measured, 0, 0.0, 0.0)


def test_rate_shown_for_regular_streams_with_samples_only():
    table = summary_table([row("Regular", 128.0, 3840, 127.98), row("Irregular", 0.0, 2, 48.11),
                           row("JustStarted", 300.0, 2, 611.5)], 30.0)
    lines = {line.split()[0]: line for line in table.splitlines()[2:-1]}
    assert "127.98" in lines["Regular"]
    assert "48.11" not in lines["Irregular"] and lines["Irregular"].split()[-2] == "-"
    assert "611.5" not in lines["JustStarted"] and lines["JustStarted"].split()[-2] == "-"
