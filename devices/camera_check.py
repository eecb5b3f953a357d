"""The camera check: does a camera (or a video file) deliver the frames it was asked for?

Frames are only grabbed and decoded (no video written, no expression), so
the figures are the camera's, not the machine's. The real frame rate is
delivered frames over the span of their capture stamps; dropped frames are
counted from gaps between stamps exactly as the webcam device counts them
(devices.video). Rows use the stream check's Row, so the table reads the same.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from devices.check import MAX_RATE_ERROR, Row
from devices.video import CameraSource, Format, VideoFileSource

MAX_DROPPED = 0.01  # at most 1 % of the frames lost


@dataclass
class CameraMeasurement:
    source: str
    requested: Format | None  # None for a video file: it plays at its own rate
    delivered: Format         # what the driver (or the file) says it delivers
    frames: int = 0
    dropped: int = 0
    first: float = math.nan
    last: float = math.nan
    seconds: float = 0.0
    ended: bool = False       # the source stopped before the time was up (a video file's end)

    @property
    def wanted_fps(self) -> float:
        return self.requested.fps if self.requested is not None else self.delivered.fps


def measure_camera(source: CameraSource | VideoFileSource, seconds: float,
                   progress: Callable[[float], None] | None = None,
                   stop: threading.Event | None = None) -> CameraMeasurement:
    """Read frames for ``seconds`` (or until the source ends) and keep counts and the stamp span."""
    stop = stop or threading.Event()
    m = CameraMeasurement(source.name, source.requested, source.delivered)
    start = time.monotonic()
    next_progress = start + 1.0
    while time.monotonic() - start < seconds and not stop.is_set():
        frame = source.read(stop)
        if frame is None:
            m.ended = not stop.is_set()
            break
        m.dropped += frame.dropped_before
        if m.frames == 0:
            m.first = frame.stamp
        m.last = frame.stamp
        m.frames += 1
        now = time.monotonic()
        if progress is not None and now >= next_progress:
            next_progress = now + 1.0
            progress(min(1.0, (now - start) / seconds))
    m.dropped += source.unreported_drops
    m.seconds = time.monotonic() - start
    return m


def evaluate_camera(m: CameraMeasurement) -> list[Row]:
    """Pass/fail rows: frames, format asked against delivered, real fps, dropped frames."""
    ended = ", source ended" if m.ended else ""
    rows = [Row("frames", f"{m.frames} in {m.seconds:.1f} s{ended}", "> 1", m.frames > 1)]
    if m.requested is not None:
        asked, got = m.requested, m.delivered
        rows.append(Row("resolution", f"{got.width}x{got.height}", f"{asked.width}x{asked.height}",
                        (got.width, got.height) == (asked.width, asked.height)))
        rows.append(Row("frame rate the driver reports", f"{got.fps:g} fps", f"{asked.fps:g} fps",
                        abs(got.fps - asked.fps) <= MAX_RATE_ERROR * asked.fps))
    else:
        rows.append(Row("video file format", str(m.delivered), "-", None))
    if m.frames < 2:
        return rows
    span = m.last - m.first
    fps = (m.frames - 1) / span if span > 0 else math.inf
    want = m.wanted_fps
    rows.append(Row("real frame rate", f"{fps:.2f} fps", f"{want:g} fps +-{MAX_RATE_ERROR:.0%}",
                    abs(fps - want) <= MAX_RATE_ERROR * want))
    total = m.frames + m.dropped
    rows.append(Row("dropped frames", f"{m.dropped} of {total} ({m.dropped / total:.1%})",
                    f"<= {MAX_DROPPED:.0%}", m.dropped <= MAX_DROPPED * total))
    return rows
