"""A reading-side index of an XDF file: where every chunk is, without loading samples.

pyxdf reads a whole file into memory, which is right for analysis but too
slow to start a replay of an hour-long recording. This module scans the
chunk headers only (length, tag, stream id, first time stamp) through a
memory map, so an hour of the lab scenario is indexed in about a second and
samples are decoded one chunk at a time when the player needs them.

It follows the XDF 1.0 layout (see ``acquisition/xdf_writer.py`` for the
writing side): ``XDF:`` then [varlen length][uint16 tag][body] chunks.
A damaged region is skipped to the next Boundary chunk, as pyxdf does; a
file cut off mid-chunk is indexed up to its last whole chunk.
"""
from __future__ import annotations

import mmap
import os
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"XDF:"
TAG_FILE_HEADER, TAG_STREAM_HEADER, TAG_SAMPLES = 1, 2, 3
TAG_CLOCK_OFFSET, TAG_BOUNDARY, TAG_STREAM_FOOTER = 4, 5, 6
BOUNDARY_UUID = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")
RELEASE_EVERY = 32 * 2**20
NUMERIC_DTYPES = {"float32": "<f4", "double64": "<f8", "int8": "<i1", "int16": "<i2",
                  "int32": "<i4", "int64": "<i8"}


class XDFError(ValueError):
    """The file is not XDF, or is damaged beyond use; the message names the file."""


@dataclass
class StreamIndex:
    """One stream: its header, and where its Samples chunks are."""

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
    first_stamps: list[float] = field(default_factory=list)  # NaN when the chunk's first stamp is implicit
    clock_times: list[float] = field(default_factory=list)
    clock_values: list[float] = field(default_factory=list)
    footer: dict[str, float] = field(default_factory=dict)

    @property
    def chunk_count(self) -> int:
        return len(self.offsets)

    def clock_offset(self, stamps: np.ndarray) -> np.ndarray:
        """Offset to add to raw stamps to reach the recorder's clock (linear between measurements)."""
        if not self.clock_times:
            return np.zeros_like(stamps)
        return np.interp(stamps, self.clock_times, self.clock_values)

    def matches(self, selector: str) -> bool:
        """A stream is selected by its exact name or type (case-insensitive)."""
        sel = selector.casefold()
        return sel in (self.name.casefold(), self.type.casefold())


@dataclass
class XDFIndex:
    path: Path
    streams: dict[int, StreamIndex]
    truncated: bool = False  # the file ends inside a chunk
    skipped_bytes: int = 0  # damaged bytes jumped over to reach a boundary
    size: int = 0


def _varlen(buf: mmap.mmap | bytes, pos: int) -> tuple[int, int]:
    """(value, position after it); raises ValueError on a bad width byte."""
    width = buf[pos]
    if width == 1:
        return buf[pos + 1], pos + 2
    if width == 4:
        return struct.unpack_from("<I", buf, pos + 1)[0], pos + 5
    if width == 8:
        return struct.unpack_from("<Q", buf, pos + 1)[0], pos + 9
    raise ValueError(f"bad variable-length integer width {width} at byte {pos}")


def _stamp(buf: bytes, pos: int, last: float, tdiff: float) -> tuple[float, int]:
    """One sample's stamp: explicit (width byte 8, then a double) or last + 1/rate; and the next position."""
    if buf[pos] == 8:
        return struct.unpack_from("<d", buf, pos + 1)[0], pos + 9
    return last + tdiff, pos + 1


def _text(root: ET.Element, tag: str, default: str = "") -> str:
    node = root.find(tag)
    return (node.text or "").strip() if node is not None and node.text else default


def _parse_header(stream_id: int, xml: str, path: Path) -> StreamIndex:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise XDFError(f"{path}: stream {stream_id}: header XML is not readable: {exc}") from exc
    fmt = _text(root, "channel_format", "float32")
    if fmt not in NUMERIC_DTYPES and fmt != "string":
        raise XDFError(f"{path}: stream {stream_id}: unknown channel_format {fmt!r}")
    return StreamIndex(stream_id, xml, _text(root, "name"), _text(root, "type"),
                       int(_text(root, "channel_count", "1")), float(_text(root, "nominal_srate", "0")),
                       fmt, _text(root, "source_id"))


def _parse_footer(xml: str) -> dict[str, float]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return {}  # a damaged footer loses nothing: the samples are all indexed
    out = {}
    for key in ("first_timestamp", "last_timestamp", "sample_count"):
        try:
            out[key] = float(_text(root, key))
        except ValueError:
            pass
    return out


def build_index(path: str | os.PathLike) -> XDFIndex:
    """Scan the chunk headers of ``path``; raises XDFError if it is not an XDF file."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < 4 or fh.read(4) != MAGIC:
                raise XDFError(f"{path}: not an XDF file (it does not start with 'XDF:')")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _scan(path, buf, size)
    except OSError as exc:
        raise XDFError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _scan(path: Path, buf: mmap.mmap, size: int) -> XDFIndex:
    index = XDFIndex(path, {}, size=size)
    streams = index.streams
    pos = 4
    released = 0
    while pos < size:
        if pos - released > RELEASE_EVERY:  # scanned pages need not stay resident
            released = pos - pos % mmap.PAGESIZE
            buf.madvise(mmap.MADV_DONTNEED, 0, released)
        try:
            length, body = _varlen(buf, pos)
            if length < 2:
                raise ValueError(f"chunk length {length} at byte {pos}")
            end = body + length
            if end > size or body + 2 > size:
                index.truncated = True
                break
            tag = struct.unpack_from("<H", buf, body)[0]
            body += 2
            if tag == TAG_SAMPLES:
                sid = struct.unpack_from("<I", buf, body)[0]
                stream = streams.get(sid)
                if stream is not None:
                    _, first = _varlen(buf, body + 4)
                    has_stamp = first < end and buf[first] == 8
                    stamp = struct.unpack_from("<d", buf, first + 1)[0] if has_stamp else float("nan")
                    stream.offsets.append(body)
                    stream.lengths.append(end - body)
                    stream.first_stamps.append(stamp)
            elif tag == TAG_STREAM_HEADER:
                sid = struct.unpack_from("<I", buf, body)[0]
                xml = bytes(buf[body + 4:end]).decode("utf-8", errors="replace")
                streams[sid] = _parse_header(sid, xml, path)
            elif tag == TAG_CLOCK_OFFSET:
                sid, when, value = struct.unpack_from("<Idd", buf, body)
                if sid in streams:
                    streams[sid].clock_times.append(when)
                    streams[sid].clock_values.append(value)
            elif tag == TAG_STREAM_FOOTER:
                sid = struct.unpack_from("<I", buf, body)[0]
                if sid in streams:
                    streams[sid].footer = _parse_footer(bytes(buf[body + 4:end]).decode("utf-8", "replace"))
            elif tag not in (TAG_FILE_HEADER, TAG_BOUNDARY):
                raise ValueError(f"unknown chunk tag {tag} at byte {pos}")
            pos = end
        except (ValueError, struct.error, IndexError):
            # Damaged bytes: resume at the next boundary chunk, as XDF readers do.
            found = buf.find(BOUNDARY_UUID, pos + 1)
            if found < 0:
                index.truncated = True
                break
            index.skipped_bytes += found - 4 - pos
            pos = found + len(BOUNDARY_UUID)
    return index


class ChunkReader:
    """Decodes one stream's Samples chunks on demand, reading only that chunk's bytes.

    Plain positioned reads (not a memory map) keep the process's memory flat
    over an hour of playback: nothing already played stays mapped.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self._fh = open(path, "rb")

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def decode(self, stream: StreamIndex, k: int, previous_stamp: float = 0.0
               ) -> tuple[np.ndarray, np.ndarray | list[list[str]]]:
        """(raw stamps, values) of chunk ``k``; an implicit stamp is previous + 1/nominal_srate."""
        buf = os.pread(self._fh.fileno(), stream.lengths[k], stream.offsets[k])
        if len(buf) < stream.lengths[k]:
            raise XDFError(f"{self._fh.name}: stream {stream.stream_id}: chunk {k} is cut short")
        start, end = 0, len(buf)
        n, pos = _varlen(buf, start + 4)
        nch = stream.channel_count
        tdiff = 1.0 / stream.nominal_srate if stream.nominal_srate > 0 else 0.0
        if stream.channel_format != "string":
            dtype = np.dtype(NUMERIC_DTYPES[stream.channel_format])
            record = np.dtype([("w", "u1"), ("t", "<f8"), ("v", dtype, (nch,))])
            if end - pos == n * record.itemsize:  # every stamp explicit: one vectorised read
                rows = np.frombuffer(buf, dtype=record, count=n, offset=pos)
                if np.all(rows["w"] == 8):
                    return rows["t"].copy(), rows["v"].astype(dtype.newbyteorder("="))
            stamps = np.empty(n)
            values = np.empty((n, nch), dtype=dtype.newbyteorder("="))
            last = previous_stamp
            for i in range(n):
                last, pos = _stamp(buf, pos, last, tdiff)
                stamps[i] = last
                values[i] = np.frombuffer(buf, dtype=dtype, count=nch, offset=pos)
                pos += nch * dtype.itemsize
            return stamps, values
        stamps = np.empty(n)
        strings: list[list[str]] = []
        last = previous_stamp
        for i in range(n):
            last, pos = _stamp(buf, pos, last, tdiff)
            stamps[i] = last
            sample = []
            for _ in range(nch):
                size, pos = _varlen(buf, pos)
                sample.append(bytes(buf[pos:pos + size]).decode("utf-8", errors="replace"))
                pos += size
            strings.append(sample)
        return stamps, strings

    def last_stamp(self, stream: StreamIndex) -> float | None:
        """The stream's last raw stamp: from the footer, or its last chunk when the footer is missing."""
        if "last_timestamp" in stream.footer and stream.footer.get("sample_count", 0) > 0:
            return stream.footer["last_timestamp"]
        if not stream.offsets:
            return None
        stamps, _ = self.decode(stream, stream.chunk_count - 1, _fallback_previous(stream))
        return float(stamps[-1]) if len(stamps) else None

    def first_stamp(self, stream: StreamIndex) -> float | None:
        if not stream.offsets:
            return None
        if not np.isnan(stream.first_stamps[0]):
            return stream.first_stamps[0]
        stamps, _ = self.decode(stream, 0)
        return float(stamps[0]) if len(stamps) else None


def _fallback_previous(stream: StreamIndex) -> float:
    """Best previous stamp for decoding a chunk out of order: the latest explicit first stamp."""
    known = [s for s in stream.first_stamps if not np.isnan(s)]
    return known[-1] if known else 0.0
