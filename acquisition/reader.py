"""One reader thread per LSL inlet: pull chunks into numpy, fan them out.

The reader is the only place that touches an inlet. It writes the stream
header (the full info XML, with desc) before any sample, pulls chunks into
a preallocated numpy buffer, measures the clock offset every 5 s and hands
everything to the writer and to live listeners. Raw timestamps are passed
on exactly as the source stamped them.

Stopping drains the inlet: the reader keeps pulling until it has a sample
stamped at or after the stop request (regular streams) or the inlet has
been quiet briefly (irregular streams), within a hard deadline.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pylsl
from pylsl.util import LostError
from pylsl.util import TimeoutError as LSLTimeoutError

from acquisition.discovery import StreamKey
from acquisition.xdf_format import NUMERIC_FORMATS

log = logging.getLogger(__name__)

FORMAT_NAMES = {
    pylsl.cf_float32: "float32", pylsl.cf_double64: "double64", pylsl.cf_string: "string",
    pylsl.cf_int32: "int32", pylsl.cf_int16: "int16", pylsl.cf_int8: "int8", pylsl.cf_int64: "int64",
}
CLOCK_OFFSET_INTERVAL = 5.0
Listener = Callable[["StreamReader", np.ndarray, object], None]


class SampleWriter(Protocol):
    def add_stream(self, stream_id: int, info_xml: str, fmt: str, nominal_srate: float) -> None: ...
    def write_samples(self, stream_id: int, stamps, values) -> None: ...
    def write_clock_offset(self, stream_id: int, collection_time: float, offset: float) -> None: ...


@dataclass
class GapCounter:
    """Counts holes in a regular stream: an interval over 3 sample periods (and 20 ms)."""

    threshold: float
    count: int = 0
    seconds: float = 0.0
    last: float | None = None

    def update(self, stamps: np.ndarray) -> None:
        if self.threshold <= 0 or len(stamps) == 0:
            return
        steps = np.diff(stamps)
        holes = steps[steps > self.threshold]
        self.count += len(holes)
        self.seconds += float(holes.sum())
        if self.last is not None and stamps[0] - self.last > self.threshold:  # across the previous pull
            self.count += 1
            self.seconds += float(stamps[0] - self.last)
        self.last = float(stamps[-1])


class StreamReader(threading.Thread):
    def __init__(self, info: pylsl.StreamInfo, stream_id: int, writer: SampleWriter,
                 poll_interval: float = 0.1, listeners: list[Listener] | None = None) -> None:
        super().__init__(name=f"reader-{info.name()}", daemon=True)
        self.info = info
        self.key = StreamKey.of(info)
        self.stream_id = stream_id
        self.writer = writer
        self.poll_interval = poll_interval
        self.listeners = listeners if listeners is not None else []
        self.fmt = FORMAT_NAMES[info.channel_format()]
        self.nominal_srate = info.nominal_srate()
        self.channel_count = info.channel_count()
        rate = self.nominal_srate
        self.gaps = GapCounter(max(3.0 / rate, 0.02) if rate > 0 else 0.0)
        self.samples = 0
        self.last_stamp: float | None = None
        self.last_receive = pylsl.local_clock()
        self.offset = 0.0
        self.error: str | None = None
        self.opened = threading.Event()
        self._stop_at: float | None = None
        self._stop_requested = threading.Event()

    # -- lifecycle -------------------------------------------------------
    def request_stop(self, stop_time: float) -> None:
        """Finish after draining everything stamped before ``stop_time`` (local LSL clock)."""
        self._stop_at = stop_time
        self._stop_requested.set()

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # a broken stream must not take the recording down
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("reader for %s failed", self.info.name())
        finally:
            self.opened.set()

    def _run(self) -> None:
        inlet = pylsl.StreamInlet(self.info, max_buflen=360, recover=True)
        full = inlet.info(timeout=5.0)
        inlet.open_stream(timeout=5.0)  # subscribe now: liblsl would otherwise wait for the first pull
        self.writer.add_stream(self.stream_id, full.as_xml(), self.fmt, self.nominal_srate)
        self.opened.set()
        # two seconds of samples per pull; markers come few at a time (pylsl allocates per pull)
        max_samples = max(64, int(self.nominal_srate * 2) if self.nominal_srate > 0 else 64)
        buffer = None
        if self.fmt != "string":
            buffer = np.empty((max_samples, self.channel_count), dtype=NUMERIC_FORMATS[self.fmt])
        self._update_offset(inlet, timeout=2.0)
        next_offset = pylsl.local_clock() + CLOCK_OFFSET_INTERVAL
        while True:
            got = self._drain(inlet, buffer, max_samples)
            now = pylsl.local_clock()
            if got:
                self.last_receive = now
            if self._stop_requested.is_set():
                if self._stop_done(now):
                    break
                time.sleep(0.005)  # the stop event is set: waiting on it would spin
                continue
            if now >= next_offset:
                self._update_offset(inlet, timeout=0.5)
                next_offset = now + CLOCK_OFFSET_INTERVAL
            self._stop_requested.wait(self.poll_interval)
        self._update_offset(inlet, timeout=0.05)
        inlet.close_stream()

    def _stop_done(self, now: float) -> bool:
        stop_at = self._stop_at if self._stop_at is not None else now
        if now > stop_at + 0.35:
            return True  # hard deadline: the process must exit promptly
        if self.nominal_srate > 0 and self.last_stamp is not None and self.last_stamp + self.offset >= stop_at:
            return True
        # Irregular or stalled stream: done once nothing has arrived for a moment.
        return now - max(self.last_receive, stop_at) > 0.1

    # -- data ------------------------------------------------------------
    def _drain(self, inlet: pylsl.StreamInlet, buffer: np.ndarray | None, max_samples: int) -> int:
        """Pull everything available now; returns the number of samples."""
        total = 0
        while True:
            if buffer is None:
                values, stamps = inlet.pull_chunk(timeout=0.0, max_samples=max_samples, as_numpy=True)
            else:
                values, stamps = inlet.pull_chunk(timeout=0.0, max_samples=max_samples,
                                                  dest_obj=buffer, as_numpy=True)
            n = len(stamps)
            if n == 0:
                return total
            self.writer.write_samples(self.stream_id, stamps, values)
            self.gaps.update(stamps)
            self.samples += n
            self.last_stamp = float(stamps[-1])
            for listener in self.listeners:
                listener(self, stamps, values)
            total += n
            if n < max_samples:
                return total

    def _update_offset(self, inlet: pylsl.StreamInlet, timeout: float) -> None:
        """Record the sender-to-local clock offset; a timeout writes nothing (never a guess)."""
        try:
            offset = inlet.time_correction(timeout=timeout)
        except (LSLTimeoutError, LostError):  # source away (it may come back): no guess is written
            return
        self.offset = offset
        self.writer.write_clock_offset(self.stream_id, pylsl.local_clock() - offset, offset)
