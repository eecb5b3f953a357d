"""A reading-side index of an XDF file: where every chunk is, without loading samples.

pyxdf reads a whole file into memory, which is right for analysis but too
slow to start a replay of an hour-long recording. This module scans the
chunk headers (length, tag, stream id, first time stamp) through a memory
map, so an hour of the lab scenario is indexed in about a second and
samples are decoded one chunk at a time when the player needs them.

What it tolerates, as pyxdf does (the byte format is ``acquisition.xdf_format``):

- damage (a changed chunk length, a bad length-width byte, garbage, a
  Samples chunk that does not fit its stream's header): the damaged region
  is skipped to the next Boundary chunk and named in ``XDFIndex.problems``;
  reading never stops at the first bad chunk. A chunk that is only
  inconsistent with its header, but whose length leads to a valid next
  chunk, is skipped alone.
- a file cut off mid-chunk (a crash): indexed up to its last whole chunk
  (``truncated``); a length that runs past the end of the file while a
  Boundary chunk still follows is damage, not a cut.
- samples without an explicit stamp (stamp byte 0), also the first of a
  chunk: previous stamp + 1/nominal_srate, carried across chunks.
- sender clock resets: the ClockOffset measurements are split into
  segments where they jump (``acquisition.xdf_clock``, pyxdf's rule) and
  each chunk is mapped with the offsets of its own segment.
- header errors (unreadable XML, a non-numeric rate or channel count, an
  unknown format): the stream is left out and the problem names the file
  and stream; the other streams are read.
"""
from __future__ import annotations

import mmap
import os
import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acquisition.xdf_clock import assign_clock_segments
from acquisition.xdf_format import (
    BOUNDARY_UUID,
    MAGIC,
    NUMERIC_FORMATS,
    STAMP_EXPLICIT,
    STREAM_TAGS,
    TAG_BOUNDARY,
    TAG_CLOCK_OFFSET,
    TAG_FILE_HEADER,
    TAG_SAMPLES,
    TAG_STREAM_HEADER,
    TAGS,
    read_varlen,
)

RELEASE_EVERY = 32 * 2**20
CAN_RELEASE = hasattr(mmap.mmap, "madvise") and hasattr(mmap, "MADV_DONTNEED")  # not on Windows
MAX_PROBLEMS = 50  # problems listed one by one; the rest are counted


class XDFError(ValueError):
    """The file is not XDF, or is damaged beyond use; the message names the file."""


class Damage(ValueError):
    """A chunk that cannot be what it claims to be."""


class Cut(Exception):
    """The file ends inside this chunk."""


@dataclass
class StreamIndex:
    """One stream: its header, where its Samples chunks are, and its clock offsets."""

    stream_id: int
    header_xml: str
    name: str
    type: str
    channel_count: int
    nominal_srate: float
    channel_format: str
    source_id: str
    offsets: list[int] = field(default_factory=list)  # body start of each Samples chunk
    lengths: list[int] = field(default_factory=list)  # body length
    first_stamps: list[float] = field(default_factory=list)  # raw stamp of each chunk's first sample
    counts: list[int] = field(default_factory=list)  # samples in each chunk
    clock_times: list[float] = field(default_factory=list)
    clock_values: list[float] = field(default_factory=list)
    footer: dict[str, float] = field(default_factory=dict)
    segments: list[tuple[int, int]] = field(default_factory=list)  # clock offset index ranges, inclusive
    chunk_segments: list[int] = field(default_factory=list)  # the segment of each chunk
    last_stamp: float | None = None  # raw stamp of the last sample (from the data, not the footer)
    record: int = 0  # bytes of one numeric sample's values (0 for strings)

    def __post_init__(self) -> None:
        if self.channel_format in NUMERIC_FORMATS:
            self.record = self.channel_count * np.dtype(NUMERIC_FORMATS[self.channel_format]).itemsize

    @property
    def chunk_count(self) -> int:
        return len(self.offsets)

    @property
    def sample_count(self) -> int:
        return sum(self.counts)

    @property
    def tdiff(self) -> float:
        return 1.0 / self.nominal_srate if self.nominal_srate > 0 else 0.0

    def clock_offset(self, stamps: np.ndarray, chunk: int = 0) -> np.ndarray:
        """Offset to add to raw stamps of chunk ``chunk`` to reach the recorder's clock.

        Linear between the measurements of the chunk's clock segment (a sender
        clock reset starts a new segment), constant beyond them.
        """
        stamps = np.asarray(stamps, dtype=float)
        if not self.clock_times:
            return np.zeros_like(stamps)
        lo, hi = self.segments[self.chunk_segments[chunk]] if self.chunk_segments else (0, len(self.clock_times) - 1)
        return np.interp(stamps, self.clock_times[lo:hi + 1], self.clock_values[lo:hi + 1])

    def first_stamps_synced(self) -> np.ndarray:
        """Each chunk's first stamp on the recorder's clock (vectorised per clock segment)."""
        first = np.asarray(self.first_stamps, dtype=float)
        if not self.clock_times:
            return first
        if not self.chunk_segments or len(self.segments) < 2:
            return first + np.interp(first, self.clock_times, self.clock_values)
        out = first.copy()
        which = np.asarray(self.chunk_segments)
        for i, (lo, hi) in enumerate(self.segments):
            mask = which == i
            out[mask] += np.interp(first[mask], self.clock_times[lo:hi + 1], self.clock_values[lo:hi + 1])
        return out

    def matches(self, selector: str) -> bool:
        """A stream is selected by its exact name or type (case-insensitive)."""
        sel = selector.casefold()
        return sel in (self.name.casefold(), self.type.casefold())


@dataclass
class XDFIndex:
    path: Path
    streams: dict[int, StreamIndex]
    truncated: bool = False  # the file ends inside a chunk
    skipped_bytes: int = 0  # damaged bytes jumped over
    size: int = 0
    problems: list[str] = field(default_factory=list)  # what was skipped and why, for the user
    problem_count: int = 0

    def note(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("(further problems are counted, not listed)")

    def summary(self) -> str:
        """One paragraph for a warning: what was skipped."""
        head = f"{self.path}: damaged or unreadable parts skipped"
        if self.skipped_bytes:
            head += f" ({self.skipped_bytes} bytes)"
        return head + ":\n  " + "\n  ".join(self.problems)


#: Called for every chunk the index accepts: (chunk start, where its tag starts, chunk end, tag).
#: The end is where the content really ends, which differs from what the
#: length field says when only that field is damaged.
ChunkCallback = Callable[[int, int, int, int], None]


def _text(root: ET.Element, tag: str, default: str = "") -> str:
    node = root.find(tag)
    return (node.text or "").strip() if node is not None and node.text else default


def parse_header(stream_id: int, xml: str, path: Path) -> StreamIndex:
    """A StreamIndex from a StreamHeader's XML; XDFError naming the file, stream and field."""
    where = f"{path}: stream {stream_id}"
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise XDFError(f"{where}: header XML is not readable: {exc}") from exc
    name = _text(root, "name")
    if name:
        where += f" ({name})"
    fmt = _text(root, "channel_format", "float32")
    if fmt not in NUMERIC_FORMATS and fmt != "string":
        raise XDFError(f"{where}: unknown channel_format {fmt!r}")
    raw_count, raw_rate = _text(root, "channel_count", "1"), _text(root, "nominal_srate", "0")
    try:
        count = int(raw_count)
    except ValueError:
        raise XDFError(f"{where}: channel_count {raw_count!r} is not a whole number") from None
    if not 0 < count <= 1_000_000:
        raise XDFError(f"{where}: channel_count {count} is out of range")
    try:
        rate = float(raw_rate)
    except ValueError:
        raise XDFError(f"{where}: nominal_srate {raw_rate!r} is not a number") from None
    if not (np.isfinite(rate) and rate >= 0):
        raise XDFError(f"{where}: nominal_srate {raw_rate!r} is not a rate")
    return StreamIndex(stream_id, xml, name, _text(root, "type"), count, rate, fmt, _text(root, "source_id"))


def _parse_footer(xml: str) -> dict[str, float]:
    root = ET.fromstring(xml)  # a ParseError (a SyntaxError) makes the scanner skip the chunk
    out = {}
    for key in ("first_timestamp", "last_timestamp", "sample_count"):
        try:
            out[key] = float(_text(root, key))
        except ValueError:
            pass
    return out


def build_index(path: str | os.PathLike, on_chunk: ChunkCallback | None = None) -> XDFIndex:
    """Scan the chunk headers of ``path``; raises XDFError if it is not an XDF file.

    ``on_chunk`` sees every accepted chunk's byte range (``repair`` copies them).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < 4 or fh.read(4) != MAGIC:
                raise XDFError(f"{path}: not an XDF file (it does not start with 'XDF:')")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                index = _Scanner(path, buf, size, on_chunk).scan()
    except OSError as exc:
        raise XDFError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    for stream in index.streams.values():
        stream.segments, stream.chunk_segments = assign_clock_segments(
            stream.clock_times, stream.clock_values, stream.first_stamps)
        promised = int(stream.footer.get("sample_count", 0))
        if index.problem_count and promised > stream.sample_count:
            index.note(f"stream {stream.stream_id} ({stream.name}): {promised - stream.sample_count} of the "
                       f"{promised} samples its footer counts are in the skipped parts")
    return index


class _Scanner:
    """One pass over the chunks; ``scan`` returns the index."""

    def __init__(self, path: Path, buf: mmap.mmap, size: int, on_chunk: ChunkCallback | None) -> None:
        self.buf, self.size, self.on_chunk = buf, size, on_chunk
        self.index = XDFIndex(path, {}, size=size)
        self.orphans: dict[int, int] = {}  # Samples chunks of streams without a (readable) header
        self.bad_headers: dict[int, str] = {}

    def scan(self) -> XDFIndex:
        buf, size, index = self.buf, self.size, self.index
        pos, released = 4, 0
        while pos < size:
            if pos - released > RELEASE_EVERY and CAN_RELEASE:  # scanned pages need not stay resident
                released = pos - pos % mmap.PAGESIZE
                buf.madvise(mmap.MADV_DONTNEED, 0, released)
            end = None
            try:
                length, body = read_varlen(buf, pos)
                if length < 2:
                    raise Damage(f"chunk length {length} is too short")
                end = body + length
                if body + 2 > size:
                    raise Cut()
                tag = struct.unpack_from("<H", buf, body)[0]
                if tag not in TAGS:
                    end = None
                    raise Damage(f"unknown chunk tag {tag}")
                kept, real_end = self.read_chunk(tag, body + 2, end)
                if real_end != end:  # the length field is wrong but the content is whole, as pyxdf reads it
                    if not self.next_chunk_looks_valid(real_end):
                        end = None
                        raise Damage(f"chunk length {length} does not match its content")
                    index.note(f"bytes {pos}-{real_end}: {self.label(tag, body + 2)}: the chunk length field says "
                               f"{length} bytes, its content {real_end - body}; read by its content")
                    end = real_end
                if kept and self.on_chunk is not None:
                    self.on_chunk(pos, body, end, tag)
                pos = end
            except Cut:
                if buf.find(BOUNDARY_UUID, pos + 1) < 0:
                    index.truncated = True  # the file was cut inside this chunk (a crash)
                    break
                self.skip_to_boundary(pos, "a chunk runs past the end of the file")
                pos = self.resume
            except (ValueError, struct.error, IndexError, SyntaxError) as exc:
                if end is not None and end <= size and self.next_chunk_looks_valid(end):
                    index.note(f"bytes {pos}-{end}: {exc}; that chunk is skipped")
                    index.skipped_bytes += end - pos
                    pos = end
                    continue
                if not self.skip_to_boundary(pos, str(exc)):
                    break
                pos = self.resume
        for sid, n in sorted(self.orphans.items()):
            why = self.bad_headers.get(sid, "no StreamHeader for it before its samples")
            index.note(f"stream {sid}: {n} Samples chunk(s) skipped: {why}")
        return index

    def label(self, tag: int, body: int) -> str:
        """'Samples chunk of stream 3 (GSR)': what a chunk is, for messages."""
        kind = {TAG_SAMPLES: "Samples", TAG_CLOCK_OFFSET: "ClockOffset", TAG_STREAM_HEADER: "StreamHeader"}.get(
            tag, f"tag {tag}")
        if tag not in STREAM_TAGS:
            return f"{kind} chunk"
        sid = struct.unpack_from("<I", self.buf, body)[0]
        stream = self.index.streams.get(sid)
        return f"{kind} chunk of stream {sid}" + (f" ({stream.name})" if stream else "")

    def skip_to_boundary(self, pos: int, reason: str) -> bool:
        """Note the damage at ``pos`` and set ``resume`` after the next Boundary; False if none follows."""
        index, size = self.index, self.size
        found = self.buf.find(BOUNDARY_UUID, pos + 1)
        if found < 0:
            index.note(f"bytes {pos}-{size} (the rest of the file): {reason}; no Boundary chunk follows")
            index.skipped_bytes += size - pos
            return False
        self.resume = found + len(BOUNDARY_UUID)
        index.note(f"bytes {pos}-{self.resume}: {reason}; skipped to the next Boundary chunk")
        index.skipped_bytes += self.resume - pos
        return True

    def next_chunk_looks_valid(self, pos: int) -> bool:
        """True at the end of the file or where a plausible chunk header starts."""
        if pos == self.size:
            return True
        try:
            length, body = read_varlen(self.buf, pos)
            return length >= 2 and body + length <= self.size and \
                struct.unpack_from("<H", self.buf, body)[0] in TAGS
        except (ValueError, struct.error, IndexError):
            return False

    def read_chunk(self, tag: int, body: int, end: int) -> tuple[bool, int]:
        """Index one chunk: (kept, where it really ends).

        Not kept: a chunk of a stream without a readable header. Samples and
        ClockOffset chunks end where their content ends (pyxdf reads them so,
        whatever the length field says); the others where the length says.
        """
        buf, streams, size = self.buf, self.index.streams, self.size
        if tag in (TAG_SAMPLES, TAG_CLOCK_OFFSET):
            sid = struct.unpack_from("<I", buf, body)[0]
            stream = streams.get(sid)
            if stream is None:
                if end > size:
                    raise Cut()
                if tag == TAG_SAMPLES:
                    self.orphans[sid] = self.orphans.get(sid, 0) + 1
                return False, end
            if tag == TAG_SAMPLES:
                return True, self.read_samples(stream, body + 4, end)
            if body + 20 > size:
                raise Cut()
            _, when, value = struct.unpack_from("<Idd", buf, body)
            stream.clock_times.append(when)
            stream.clock_values.append(value)
            return True, body + 20
        if end > size:
            raise Cut()
        if tag in (TAG_FILE_HEADER, TAG_BOUNDARY):
            return True, end
        sid = struct.unpack_from("<I", buf, body)[0]
        if tag == TAG_STREAM_HEADER:
            xml = bytes(buf[body + 4:end]).decode("utf-8", errors="replace")
            try:
                streams[sid] = parse_header(sid, xml, self.index.path)
            except XDFError as exc:
                self.bad_headers[sid] = str(exc)
                self.index.note(f"{exc}; the stream is left out")
                return False, end
            return True, end
        stream = streams.get(sid)
        if stream is None:
            return False, end
        stream.footer = _parse_footer(bytes(buf[body + 4:end]).decode("utf-8", "replace"))
        return True, end

    def read_samples(self, stream: StreamIndex, pos: int, end: int) -> int:
        """Validate one Samples chunk against its stream's header, add it to the index; where it ends."""
        buf, size = self.buf, self.size
        if pos >= size:
            raise Cut()
        n, first = read_varlen(buf, pos)
        if n == 0:
            return first
        if first >= size:
            raise Cut()
        if buf[first] not in (0, STAMP_EXPLICIT):
            raise Damage(f"stream {stream.stream_id} ({stream.name}): bad stamp byte {buf[first]} in a Samples chunk")
        explicit = buf[first] == STAMP_EXPLICIT
        record = stream.record
        if record and end - first == n * (9 + record) and end <= size:  # every stamp explicit, as Attune writes
            real_end = end
            last = struct.unpack_from("<d", buf, end - record - 8)[0]
        else:
            real_end, last = walk_samples(buf, first, n, stream, _previous(stream), size)
        if real_end != end and not self.next_chunk_looks_valid(real_end):
            raise Damage(f"stream {stream.stream_id} ({stream.name}): a Samples chunk of {n} samples in "
                         f"{end - first} bytes does not fit "
                         f"{stream.channel_count} {stream.channel_format} channel(s)")
        stamp = struct.unpack_from("<d", buf, first + 1)[0] if explicit else _previous(stream) + stream.tdiff
        stream.offsets.append(pos - 4)
        stream.lengths.append(real_end - pos + 4)
        stream.first_stamps.append(stamp)
        stream.counts.append(n)
        stream.last_stamp = last
        return real_end


def _previous(stream: StreamIndex) -> float:
    """The stamp before the next chunk's first sample (0 before any, as pyxdf starts)."""
    return stream.last_stamp if stream.last_stamp is not None else 0.0


def walk_samples(buf, pos: int, n: int, stream: StreamIndex, previous: float, size: int) -> tuple[int, float]:
    """Step over ``n`` samples from ``pos``: (where they end, the last stamp). Cut if they run past ``size``."""
    fmt, nch, record = stream.channel_format, stream.channel_count, stream.record
    tdiff, last = stream.tdiff, previous
    for _ in range(n):
        if pos >= size:
            raise Cut()
        if buf[pos] == STAMP_EXPLICIT:
            if pos + 9 > size:
                raise Cut()
            last = struct.unpack_from("<d", buf, pos + 1)[0]
            pos += 9
        elif buf[pos] == 0:
            last = last + tdiff
            pos += 1
        else:
            raise Damage(f"stream {stream.stream_id} ({stream.name}): bad stamp byte {buf[pos]} at byte {pos}")
        if fmt == "string":
            for _ in range(nch):
                if pos >= size:
                    raise Cut()
                length, pos = read_varlen(buf, pos)
                pos += length
        else:
            pos += record
    if pos > size:
        raise Cut()
    return pos, last


class ChunkReader:
    """Decodes one stream's Samples chunks on demand, reading only that chunk's bytes.

    Plain positioned reads (not a memory map) keep the process's memory flat
    over an hour of playback: nothing already played stays mapped.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self._fh = open(path, "rb")

    def close(self) -> None:
        self._fh.close()

    def _read_at(self, offset: int, size: int) -> bytes:
        if hasattr(os, "pread"):
            return os.pread(self._fh.fileno(), size, offset)
        self._fh.seek(offset)  # Windows has no pread; one thread reads through a ChunkReader
        return self._fh.read(size)

    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def decode(self, stream: StreamIndex, k: int) -> tuple[np.ndarray, np.ndarray | list[list[str]]]:
        """(raw stamps, values) of chunk ``k``.

        An implicit stamp is the previous one + 1/nominal_srate; the index
        resolved each chunk's first stamp, so chunks decode in any order.
        """
        buf = self._read_at(stream.offsets[k], stream.lengths[k])
        if len(buf) < stream.lengths[k]:
            raise XDFError(f"{self._fh.name}: stream {stream.stream_id}: chunk {k} is cut short")
        n, pos = read_varlen(buf, 4)
        nch = stream.channel_count
        tdiff = stream.tdiff
        first = stream.first_stamps[k]
        if stream.channel_format != "string":
            dtype = np.dtype(NUMERIC_FORMATS[stream.channel_format])
            record = np.dtype([("w", "u1"), ("t", "<f8"), ("v", dtype, (nch,))])
            if len(buf) - pos == n * record.itemsize:  # every stamp explicit: one vectorised read
                rows = np.frombuffer(buf, dtype=record, count=n, offset=pos)
                if np.all(rows["w"] == STAMP_EXPLICIT):
                    return rows["t"].copy(), rows["v"].astype(dtype.newbyteorder("="))
            stamps = np.empty(n)
            values = np.empty((n, nch), dtype=dtype.newbyteorder("="))
            last = first
            for i in range(n):
                last, pos = _stamp(buf, pos, last, tdiff, i == 0, first)
                stamps[i] = last
                values[i] = np.frombuffer(buf, dtype=dtype, count=nch, offset=pos)
                pos += nch * dtype.itemsize
            return stamps, values
        stamps = np.empty(n)
        strings: list[list[str]] = []
        last = first
        for i in range(n):
            last, pos = _stamp(buf, pos, last, tdiff, i == 0, first)
            stamps[i] = last
            sample = []
            for _ in range(nch):
                size, pos = read_varlen(buf, pos)
                sample.append(bytes(buf[pos:pos + size]).decode("utf-8", errors="replace"))
                pos += size
            strings.append(sample)
        return stamps, strings


def _stamp(buf: bytes, pos: int, last: float, tdiff: float, is_first: bool, first: float) -> tuple[float, int]:
    """One sample's stamp and the next position: explicit, the chunk's resolved first, or last + 1/rate."""
    if buf[pos] == STAMP_EXPLICIT:
        return struct.unpack_from("<d", buf, pos + 1)[0], pos + 9
    return (first if is_first else last + tdiff), pos + 1
