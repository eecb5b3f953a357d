"""Repair an XDF file left by a crash or damaged on disk, into a new file.

A recorder killed mid-session (kill -9, a power cut) leaves no StreamFooter
chunks; disk or copy errors leave damaged chunks. ``repair`` reads the file
with the tolerant index (``acquisition.xdf_index``), copies every chunk that
is whole, in its original order and byte for byte (a length field that
alone was wrong is corrected), drops what is damaged (the report names
it), and ends with a Boundary and a StreamFooter for every stream,
recomputed from the data kept: first and last stamp, sample count,
measured rate and all the stream's clock offsets. Old footers are not
copied: they would count samples that a damaged chunk took with it.

The input is only read. The output is created exclusively: an existing
file is never overwritten, and a failed repair leaves no half-written file.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from acquisition.xdf_format import (
    MAGIC,
    TAG_FILE_HEADER,
    TAG_STREAM_FOOTER,
    boundary_chunk,
    file_header_chunk,
    measured_srate,
    read_varlen,
    stream_footer_chunk,
    varlen,
)
from acquisition.xdf_index import StreamIndex, XDFError, XDFIndex, build_index

COPY_BLOCK = 4 * 2**20
#: progress(bytes done, bytes in all)
Progress = Callable[[int, int], None]


@dataclass
class RepairReport:
    source: Path
    out: Path
    index: XDFIndex
    footers_added: list[str] = field(default_factory=list)  # "name (N samples)" of each stream given a footer
    footers_replaced: list[str] = field(default_factory=list)  # streams whose old footer was rewritten
    bytes_written: int = 0

    def lines(self) -> list[str]:
        """What was done, for the operator."""
        out = [f"repaired copy: {self.out} ({self.bytes_written} bytes)"]
        if self.footers_added:
            out.append(f"footers recomputed for {len(self.footers_added)} stream(s): " + ", ".join(self.footers_added))
        if self.footers_replaced:
            out.append("footers rewritten from the data: " + ", ".join(self.footers_replaced))
        if self.index.truncated:
            out.append(f"{self.source} ends inside a chunk (cut off): that last partial chunk is left out")
        if self.index.problems:
            out.append(self.index.summary())
        if not (self.footers_added or self.index.truncated or self.index.problems):
            out.append("no damage found and every stream had its footer: the copy holds all the original's data")
        return out


def repaired_path(source: Path) -> Path:
    """The default output: ``NAME_repaired.xdf`` beside the input."""
    return source.with_name(f"{source.stem}_repaired{source.suffix or '.xdf'}")


def footer_for(stream: StreamIndex) -> bytes:
    """A StreamFooter recomputed from the stream's indexed data."""
    count = stream.sample_count
    first = stream.first_stamps[0] if stream.chunk_count else 0.0
    last = stream.last_stamp if stream.last_stamp is not None else 0.0
    offsets = list(zip(stream.clock_times, stream.clock_values))
    return stream_footer_chunk(stream.stream_id, first, last, count,
                               measured_srate(first, last, count), offsets)


def repair(source: str | os.PathLike, out: str | os.PathLike | None = None,
           progress: Progress | None = None) -> RepairReport:
    """Write a repaired copy of ``source``; XDFError (naming the file) when it cannot."""
    source = Path(source)
    out = Path(out) if out is not None else repaired_path(source)
    if out.exists() and out.resolve() == source.resolve():
        raise XDFError(f"{out}: is the input file; repair never modifies the input (choose another --out)")
    spans: list[tuple[int, int, int, int]] = []
    index = build_index(source, on_chunk=lambda start, tag_at, end, tag: spans.append((start, tag_at, end, tag)))
    report = RepairReport(source, out, index)
    # Every footer is written anew from the data kept: an old one would count samples that were skipped.
    spans = [span for span in spans if span[3] != TAG_STREAM_FOOTER]
    tail = bytearray(boundary_chunk())
    for stream in index.streams.values():
        tail += footer_for(stream)
        label = f"{stream.name or stream.stream_id} ({stream.sample_count} samples)"
        (report.footers_replaced if stream.footer else report.footers_added).append(label)
    head = MAGIC if spans and spans[0][3] == TAG_FILE_HEADER else MAGIC + file_header_chunk()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    except FileExistsError:
        raise XDFError(f"{out}: already exists; repair never overwrites a file (choose another --out)") from None
    except OSError as exc:
        raise XDFError(f"{out}: cannot create: {exc.strerror or exc}") from exc
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
            dst.write(head)
            _copy(src, dst, _pieces(src, spans), index.size, progress)
            dst.write(tail)
            dst.flush()
            os.fsync(dst.fileno())
            report.bytes_written = dst.tell()
    except OSError as exc:
        out.unlink(missing_ok=True)
        raise XDFError(f"{out}: writing the repaired copy failed: {exc.strerror or exc}") from exc
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return report


def _pieces(src, spans: list[tuple[int, int, int, int]]) -> list[tuple[int, int] | bytes]:
    """What to write: byte ranges of the source (adjacent chunks joined) and new length fields.

    A chunk whose length field alone was wrong (its content read whole) gets
    a correct length field; the rest of its bytes are copied.
    """
    pieces: list[tuple[int, int] | bytes] = []
    for start, tag_at, end, _ in spans:
        src.seek(start)
        header = src.read(tag_at - start)
        length, after = read_varlen(header, 0)
        if after == len(header) and start + after + length == end:
            copy_from = start
        else:
            pieces.append(varlen(end - tag_at))
            copy_from = tag_at
        last = pieces[-1] if pieces else None
        if isinstance(last, tuple) and last[1] == copy_from:
            pieces[-1] = (last[0], end)
        else:
            pieces.append((copy_from, end))
    return pieces


def _copy(src, dst, pieces: list[tuple[int, int] | bytes], total: int, progress: Progress | None) -> None:
    for piece in pieces:
        if isinstance(piece, bytes):
            dst.write(piece)
            continue
        start, end = piece
        src.seek(start)
        pos = start
        while pos < end:
            block = src.read(min(COPY_BLOCK, end - pos))
            if not block:
                raise OSError(f"{src.name} became shorter while it was being read")
            dst.write(block)
            pos += len(block)
            if progress is not None:
                progress(pos, total)
    if progress is not None:
        progress(total, total)
