"""The XDF 1.0 byte format: the one home of its constants and primitives.

Imported by the writer (``xdf_writer``), the reading index (``xdf_index``)
and ``repair``, as LabRecorder's writer and reader share ``xdf_defs.h``.

Layout (little-endian): ``XDF:`` then chunks of [varlen length][uint16 tag]
[body], where length counts the tag and body. A varlen integer is a width
byte (1, 4 or 8) then the value in that many bytes. A sample's stamp is a
byte 8 then a double, or a byte 0: "previous stamp + 1/nominal_srate".
"""
from __future__ import annotations

import datetime as _dt
import struct
from collections.abc import Sequence

MAGIC = b"XDF:"
TAG_FILE_HEADER = 1
TAG_STREAM_HEADER = 2
TAG_SAMPLES = 3
TAG_CLOCK_OFFSET = 4
TAG_BOUNDARY = 5
TAG_STREAM_FOOTER = 6
TAGS = (TAG_FILE_HEADER, TAG_STREAM_HEADER, TAG_SAMPLES, TAG_CLOCK_OFFSET, TAG_BOUNDARY, TAG_STREAM_FOOTER)
#: Tags whose body starts with a uint32 stream id.
STREAM_TAGS = (TAG_STREAM_HEADER, TAG_SAMPLES, TAG_CLOCK_OFFSET, TAG_STREAM_FOOTER)
BOUNDARY_UUID = bytes.fromhex("43A546DCCBF5410FB30ED5467383CBE4")
VARLEN_WIDTHS = (1, 4, 8)
STAMP_EXPLICIT = 8  # width byte before an explicit double stamp; 0 means implicit

#: LSL channel formats and their little-endian numpy equivalents.
NUMERIC_FORMATS: dict[str, str] = {
    "float32": "<f4",
    "double64": "<f8",
    "int8": "<i1",
    "int16": "<i2",
    "int32": "<i4",
    "int64": "<i8",
}
CHANNEL_FORMATS = (*NUMERIC_FORMATS, "string")

#: FileHeader datetime as LabRecorder writes it (``%FT%T%z``, e.g. ``+0000``):
#: the MNE-based readers insert a colon before the last two characters and
#: call ``datetime.fromisoformat``, which fails on an offset that has one.
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def varlen(n: int) -> bytes:
    """XDF variable-length integer: a byte giving the width (1, 4 or 8), then the value."""
    if n < 256:
        return struct.pack("<BB", 1, n)
    if n < 2**32:
        return struct.pack("<BI", 4, n)
    return struct.pack("<BQ", 8, n)


def read_varlen(buf, pos: int) -> tuple[int, int]:
    """(value, position after it) from ``buf``; ValueError on a bad width byte, IndexError at the end."""
    width = buf[pos]
    if width == 1:
        return buf[pos + 1], pos + 2
    if width == 4:
        return struct.unpack_from("<I", buf, pos + 1)[0], pos + 5
    if width == 8:
        return struct.unpack_from("<Q", buf, pos + 1)[0], pos + 9
    raise ValueError(f"bad length-width byte {width} at byte {pos}")


def chunk(tag: int, body: bytes) -> bytes:
    """One whole chunk: length (tag + body), tag, body."""
    return varlen(len(body) + 2) + struct.pack("<H", tag) + body


def file_header_chunk(when: _dt.datetime | None = None) -> bytes:
    when = when or _dt.datetime.now(_dt.timezone.utc).astimezone()
    xml = (
        '<?xml version="1.0"?><info><version>1.0</version>'
        f"<datetime>{when.strftime(DATETIME_FORMAT)}</datetime></info>"
    )
    return chunk(TAG_FILE_HEADER, xml.encode())


def stream_header_chunk(stream_id: int, info_xml: str) -> bytes:
    return chunk(TAG_STREAM_HEADER, struct.pack("<I", stream_id) + info_xml.encode("utf-8"))


def clock_offset_chunk(stream_id: int, collection_time: float, offset: float) -> bytes:
    return chunk(TAG_CLOCK_OFFSET, struct.pack("<Idd", stream_id, collection_time, offset))


def boundary_chunk() -> bytes:
    return chunk(TAG_BOUNDARY, BOUNDARY_UUID)


def stream_footer_chunk(stream_id: int, first: float, last: float, count: int, measured_srate: float,
                        clock_offsets: Sequence[tuple[float, float]]) -> bytes:
    """StreamFooter: first/last stamp, sample count, measured rate and every clock offset, as LabRecorder writes."""
    offsets = "".join(f"<offset><time>{t!r}</time><value>{v!r}</value></offset>" for t, v in clock_offsets)
    xml = (
        '<?xml version="1.0"?><info>'
        f"<first_timestamp>{first!r}</first_timestamp>"
        f"<last_timestamp>{last!r}</last_timestamp>"
        f"<sample_count>{count}</sample_count>"
        f"<measured_srate>{measured_srate!r}</measured_srate>"
        f"<clock_offsets>{offsets}</clock_offsets></info>"
    )
    return chunk(TAG_STREAM_FOOTER, struct.pack("<I", stream_id) + xml.encode())


def measured_srate(first: float | None, last: float | None, count: int) -> float:
    """Samples per second between the first and last stamp (0 when it cannot be told)."""
    if count < 2 or first is None or last is None or last == first:
        return 0.0
    return (count - 1) / (last - first)

