"""A live stream's health as the streams table shows it: status words, the table row, the check.

Pure functions of a LiveStream snapshot and the time now, so the panel, a
test or another front end judge a stream the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from acquisition.discovery import StreamKey
from devices.check import check_window, failures
from devices.gaze_layouts import recognise_header

if TYPE_CHECKING:
    from acquisition.live import LiveStream

CHECK_WINDOW = 10.0  # seconds of each stream the panel's device check looks at
CHECK_MIN = 3.0  # seconds of data before a stream is judged

RECEIVING = "receiving"
WAITING = "waiting"  # visible, no data yet (or an irregular stream with nothing sent recently)
STALLED = "stalled"  # visible on the network but no data
LOST = "lost"  # gone from the network
MISSING = "missing"  # required, and no stream on the network matches


@dataclass(frozen=True)
class StreamRow:
    """One line of the streams table (a snapshot; no LSL calls needed to show it)."""

    key: StreamKey | None
    name: str
    type: str
    hostname: str
    channel_count: int
    nominal_srate: float
    measured_srate: float
    samples: int
    status: str
    seconds_since_data: float | None
    required: bool
    detail: str = ""
    check: str = ""  # the device check on the recent buffer: "" (not judged yet), "ok" or "FAIL: ..."


def live_check(stream: LiveStream, now: float) -> str:
    """The device check (devices.check) on the last CHECK_WINDOW seconds this stream delivered.

    "" until there are CHECK_MIN seconds of data (or for irregular and string
    streams), "ok" when every row passes, "FAIL: <failed rows>" otherwise.
    """
    if stream.buffer is None or stream.nominal_srate <= 0 or stream.last_receive is None:
        return ""
    stamps, values = stream.window(CHECK_WINDOW, now)
    if len(stamps) < 2 or stamps[-1] - stamps[0] < CHECK_MIN:
        return ""
    layout = recognise_header(stream.name, stream.type, stream.channel_count, stream.labels)
    rows = check_window(stamps, values if layout is not None else None, stream.nominal_srate, layout)
    failed = failures(rows)
    return f"FAIL: {failed}" if failed else "ok"


def stall_threshold(nominal_srate: float) -> float:
    """How long a regular stream may be silent before it counts as stalled."""
    return max(1.5, 5.0 / nominal_srate) if nominal_srate > 0 else float("inf")


def stream_status(stream: LiveStream, now: float) -> str:
    if not stream.visible:
        return LOST
    silent = now - (stream.last_receive if stream.last_receive is not None else stream.first_seen)
    if stream.nominal_srate <= 0:
        return RECEIVING if stream.last_receive is not None and silent < 10.0 else WAITING
    if silent >= stall_threshold(stream.nominal_srate):
        return STALLED
    return RECEIVING if stream.last_receive is not None else WAITING
