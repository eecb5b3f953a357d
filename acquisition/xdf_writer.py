"""The XDF 1.0 writer (the byte format itself lives in ``acquisition.xdf_format``).

Crash safety is built into how bytes reach the disk: chunks are encoded
whole into a memory buffer and written with a single ``os.write`` per
flush, so a process killed at any moment leaves only complete chunks
behind; the caller flushes at least every second. Footers are written by
``close()`` for every stream; a file without them is visibly unfinished.

A write that fails (disk full, file too large, I/O error) never leaves
half a chunk: the file is cut back to the last whole chunk, the writer
stops taking data and says why in ``fault``, and ``close()`` still writes
footers that describe exactly what is on disk, if space allows. A file
deleted while open (e.g. its folder removed) lives on in the open
descriptor; ``close()`` copies it to a recovery path (``recovered_to``).
"""
from __future__ import annotations

import errno
import os
import struct
import tempfile
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


def describe_write_error(path: Path, exc: OSError) -> str:
    """What a failed write means for the operator, naming the file."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"disk full: cannot write {path} ({exc.strerror})"
    if exc.errno == errno.EFBIG:
        return f"file too large for this disk or account: {path} ({exc.strerror})"
    return f"cannot write {path}: {exc.strerror or exc}"


def recovery_path(path: Path) -> Path:
    """Where a file whose folder vanished is saved: the nearest folder that still exists."""
    folder = path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    return folder / f"{path.stem}_recovered{path.suffix}"


def _write_all(fd: int, data: bytes | bytearray) -> None:
    """Write every byte: a short write goes on with the rest, never repeats what was written."""
    with memoryview(data) as view:
        done = 0
        while done < len(view):
            n = os.write(fd, view[done:])
            if n <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            done += n


class XDFWriter:
    """Thread-safe XDF file writer; many readers write, one flusher reaches the disk.

    The file is created exclusively: an existing file is never overwritten.
    """

    def __init__(self, path: str | os.PathLike, boundary_interval: float = 10.0,
                 max_buffer: int = 8 * 2**20) -> None:
        self.path = Path(path)
        # read-write: a file whose folder is deleted can still be copied out of the descriptor
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        self._fd = os.open(self.path, flags, 0o644)
        self._lock = threading.Lock()
        self._buffer = bytearray(MAGIC + file_header_chunk())
        self._streams: dict[int, StreamStats] = {}
        self._committed: dict[int, tuple[float | None, float | None, int, int]] = {}
        self._bytes_on_disk = 0
        self._boundary_interval = boundary_interval
        self._last_boundary = time.monotonic()
        self._max_buffer = max_buffer
        self.closed = False
        self.fault: str | None = None  # why the file stopped growing; None while all is well
        self.failed = threading.Event()  # set with ``fault``
        self.dropped_bytes = 0  # data not written after the fault
        self.orphaned = False  # the file was deleted from its folder while open
        self.recovered_to: Path | None = None
        self.flush()
        if self.fault is not None:  # not even the header fits: leave nothing behind
            os.close(self._fd)
            self.path.unlink(missing_ok=True)
            raise OSError(errno.ENOSPC, self.fault)

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
        if self.fault is not None:  # the file ends at the fault; say so, do not grow a buffer
            self.dropped_bytes += sum(len(part) for part in parts)
            return
        for part in parts:
            self._buffer += part
        if len(self._buffer) >= self._max_buffer:
            self._write_out()

    def _write_out(self) -> None:
        """Write the buffer; on an error cut the file back to its last whole chunk and stop."""
        chunk_end = self._bytes_on_disk  # the buffer holds whole chunks only
        try:
            _write_all(self._fd, self._buffer)
        except OSError as exc:
            self._fail(exc, chunk_end)
            return
        self._bytes_on_disk += len(self._buffer)
        self._buffer = bytearray()
        self._committed = {sid: (s.first_timestamp, s.last_timestamp, s.sample_count, len(s.clock_offsets))
                           for sid, s in self._streams.items()}

    def _fail(self, exc: OSError, chunk_end: int) -> None:
        self.fault = describe_write_error(self.path, exc)
        self.dropped_bytes += len(self._buffer)
        self._buffer = bytearray()
        self._cut(chunk_end)
        self.failed.set()

    def _cut(self, size: int) -> None:
        """Drop a partly written chunk: the file ends on a whole chunk, the next write follows it."""
        try:
            os.ftruncate(self._fd, size)
            os.lseek(self._fd, size, os.SEEK_SET)
        except OSError:
            pass
        self._bytes_on_disk = size

    def flush(self, sync: bool = False) -> None:
        """Write whole buffered chunks to the file (and a boundary chunk when due)."""
        with self._lock:
            if self.closed or self.fault is not None:
                return
            if time.monotonic() - self._last_boundary >= self._boundary_interval:
                self._buffer += boundary_chunk()
                self._last_boundary = time.monotonic()
            if self._buffer:
                self._write_out()
            if sync and self.fault is None:
                self._sync()

    def _sync(self) -> None:
        try:
            os.fsync(self._fd)
            if not self.orphaned and os.fstat(self._fd).st_nlink == 0:
                self.orphaned = True
        except OSError as exc:
            self._fail(exc, self._bytes_on_disk)

    def close(self) -> None:
        """Write a footer for every stream, flush, sync and close; never raises for the disk.

        After a fault the footers describe what is on disk (if they fit);
        a file deleted while open is copied to ``recovered_to``.
        """
        with self._lock:
            if self.closed:
                return
            if self.fault is None:
                self._buffer += boundary_chunk()
                for stream_id, stats in self._streams.items():
                    self._buffer += stats.footer_chunk(stream_id)
                self._write_out()
            if self.fault is not None:
                self._write_committed_footers()
            self._sync()
            try:
                if os.fstat(self._fd).st_nlink == 0:
                    self.orphaned = True
                    self._recover()
            finally:
                self.closed = True
                os.close(self._fd)

    def _write_committed_footers(self) -> None:
        """Footers for exactly the samples on disk, if the disk has room for them."""
        tail = bytearray(boundary_chunk())
        for sid, (first, last, count, n_offsets) in self._committed.items():
            stats = self._streams[sid]
            on_disk = StreamStats(stats.fmt, stats.nominal_srate, first, last, count, stats.clock_offsets[:n_offsets])
            tail += on_disk.footer_chunk(sid)
        end = self._bytes_on_disk
        try:
            _write_all(self._fd, tail)
            self._bytes_on_disk += len(tail)
        except OSError:
            self._cut(end)

    def _recover(self) -> None:
        """Copy the still-open file to a new path beside where it was (never over another file)."""
        target = recovery_path(self.path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        n = 1
        while True:
            try:
                out = os.open(target, flags, 0o644)
                break
            except FileExistsError:
                n += 1
                target = target.with_name(f"{self.path.stem}_recovered{n}{self.path.suffix}")
            except OSError as exc:  # that folder is not writable: the temporary folder then
                fallback = Path(tempfile.gettempdir())
                if target.parent == fallback:
                    self.fault = (self.fault or "") + f"; no recovery file could be made: {exc.strerror or exc}"
                    return
                target = fallback / target.name
        try:
            os.lseek(self._fd, 0, os.SEEK_SET)
            while block := os.read(self._fd, 1 << 20):
                _write_all(out, block)
            os.fsync(out)
        except OSError as exc:
            self.fault = (self.fault or "") + f"; copying it to {target} failed: {exc.strerror or exc}"
        finally:
            os.close(out)
        self.recovered_to = target

