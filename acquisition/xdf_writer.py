"""The XDF 1.0 writer (the byte format itself lives in ``acquisition.xdf_format``).

Crash safety is built into how bytes reach the disk: chunks are encoded
whole into a memory buffer and written with a single ``os.write`` per
flush, so a process killed at any moment leaves only complete chunks
behind; the caller flushes at least every second. Footers are written by
``close()`` for every stream; a file without them is visibly unfinished.
"""
from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acquisition.xdf_format import (
    CHANNEL_FORMATS,
    MAGIC,
    NUMERIC_FORMATS,
    TAG_SAMPLES,
    boundary_chunk,
    chunk,
    clock_offset_chunk,
    file_header_chunk,
    measured_srate,
    stream_footer_chunk,
    stream_header_chunk,
    varlen,
)


def numeric_samples_parts(stream_id: int, fmt: str, stamps: np.ndarray, values: np.ndarray
                          ) -> tuple[bytes, np.ndarray]:
    """Samples chunk for a numeric stream as (header bytes, sample records), not yet joined.

    Every sample carries its own explicit stamp, which keeps the raw
    timestamps exactly as the source sent them (no reconstruction from the
    nominal rate on reading). The records go to the file buffer without an
    intermediate copy: at 64 channels x 1000 Hz, copies are most of the cost.
    """
    values = np.asarray(values)
    n = len(stamps)
    nch = values.shape[1] if values.ndim == 2 else 1
    layout = np.dtype([("width", "u1"), ("stamp", "<f8"), ("values", NUMERIC_FORMATS[fmt], (nch,))])
    records = np.empty(n, dtype=layout)
    records["width"] = 8
    records["stamp"] = stamps
    records["values"] = values.reshape(n, nch)
    count = varlen(n)
    head = varlen(2 + 4 + len(count) + records.nbytes) + struct.pack("<HI", TAG_SAMPLES, stream_id) + count
    return head, records


def numeric_samples_chunk(stream_id: int, fmt: str, stamps: np.ndarray, values: np.ndarray) -> bytes:
    """The whole Samples chunk for a numeric stream (see ``numeric_samples_parts``)."""
    head, records = numeric_samples_parts(stream_id, fmt, stamps, values)
    return head + records.tobytes()


def string_samples_chunk(stream_id: int, stamps: Sequence[float], values: Sequence[Sequence]) -> bytes:
    """Samples chunk for a string stream: per channel a varlen byte length and UTF-8 bytes."""
    parts = [struct.pack("<I", stream_id), varlen(len(stamps))]
    for stamp, sample in zip(stamps, values):
        parts.append(struct.pack("<Bd", 8, float(stamp)))
        for value in sample:
            raw = value if isinstance(value, (bytes, bytearray)) else str(value).encode("utf-8")
            parts.append(varlen(len(raw)))
            parts.append(bytes(raw))
    return chunk(TAG_SAMPLES, b"".join(parts))


@dataclass
class StreamStats:
    """What the footer of one stream reports; also read for progress lines."""

    fmt: str
    nominal_srate: float
    first_timestamp: float | None = None
    last_timestamp: float | None = None
    sample_count: int = 0
    clock_offsets: list[tuple[float, float]] = field(default_factory=list)

    @property
    def measured_srate(self) -> float:
        return measured_srate(self.first_timestamp, self.last_timestamp, self.sample_count)

    def footer_chunk(self, stream_id: int) -> bytes:
        first = self.first_timestamp if self.first_timestamp is not None else 0.0
        last = self.last_timestamp if self.last_timestamp is not None else 0.0
        return stream_footer_chunk(stream_id, first, last, self.sample_count, self.measured_srate,
                                   self.clock_offsets)


class XDFWriter:
    """Thread-safe XDF file writer; many readers write, one flusher reaches the disk.

    The file is created exclusively: an existing file is never overwritten.
    """

    def __init__(self, path: str | os.PathLike, boundary_interval: float = 10.0,
                 max_buffer: int = 8 * 2**20) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._lock = threading.Lock()
        self._buffer = bytearray(MAGIC + file_header_chunk())
        self._streams: dict[int, StreamStats] = {}
        self._bytes_on_disk = 0
        self._boundary_interval = boundary_interval
        self._last_boundary = time.monotonic()
        self._max_buffer = max_buffer
        self.closed = False
        self.flush()

    # -- streams ---------------------------------------------------------
    def add_stream(self, stream_id: int, info_xml: str, fmt: str, nominal_srate: float) -> None:
        if fmt not in CHANNEL_FORMATS:
            raise ValueError(f"stream {stream_id}: unknown channel format {fmt!r}")
        with self._lock:
            if stream_id in self._streams:
                raise ValueError(f"stream id {stream_id} is already in {self.path}")
            self._streams[stream_id] = StreamStats(fmt, nominal_srate)
            self._append(stream_header_chunk(stream_id, info_xml))

    def write_samples(self, stream_id: int, stamps: Sequence[float] | np.ndarray, values) -> None:
        """Append samples; ``values`` is (n, channels) numeric or a list of string samples."""
        n = len(stamps)
        if n == 0:
            return
        stats = self._streams[stream_id]
        if stats.fmt == "string":
            parts: tuple = (string_samples_chunk(stream_id, stamps, values),)
        else:
            head, records = numeric_samples_parts(stream_id, stats.fmt, np.asarray(stamps, dtype=np.float64),
                                                  values)
            parts = (head, memoryview(records).cast("B"))
        with self._lock:
            if stats.first_timestamp is None:
                stats.first_timestamp = float(stamps[0])
            stats.last_timestamp = float(stamps[-1])
            stats.sample_count += n
            self._append(*parts)

    def write_clock_offset(self, stream_id: int, collection_time: float, offset: float) -> None:
        with self._lock:
            self._streams[stream_id].clock_offsets.append((collection_time, offset))
            self._append(clock_offset_chunk(stream_id, collection_time, offset))

    def stats(self, stream_id: int) -> StreamStats | None:
        """The running footer figures of a stream (None before its header is written)."""
        return self._streams.get(stream_id)

    @property
    def size(self) -> int:
        """Bytes written so far, including what still waits in memory."""
        return self._bytes_on_disk + len(self._buffer)

    # -- disk ------------------------------------------------------------
    def _append(self, *parts: bytes | memoryview) -> None:
        """Add one whole chunk (given in parts) to the buffer."""
        if self.closed:
            raise ValueError(f"{self.path} is closed")
        for part in parts:
            self._buffer += part
        if len(self._buffer) >= self._max_buffer:
            self._write_out()

    def _write_out(self) -> None:
        view = memoryview(self._buffer)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._bytes_on_disk += len(self._buffer)
        self._buffer = bytearray()

    def flush(self, sync: bool = False) -> None:
        """Write whole buffered chunks to the file (and a boundary chunk when due)."""
        with self._lock:
            if self.closed:
                return
            if time.monotonic() - self._last_boundary >= self._boundary_interval:
                self._buffer += boundary_chunk()
                self._last_boundary = time.monotonic()
            if self._buffer:
                self._write_out()
            if sync:
                os.fsync(self._fd)

    def close(self) -> None:
        """Write a footer for every stream, flush, sync and close."""
        with self._lock:
            if self.closed:
                return
            self._buffer += boundary_chunk()
            for stream_id, stats in self._streams.items():
                self._buffer += stats.footer_chunk(stream_id)
        self.flush(sync=True)
        with self._lock:
            self.closed = True
            os.close(self._fd)

