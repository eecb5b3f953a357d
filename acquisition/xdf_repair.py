"""Repair an XDF file left by a crash or damaged on disk, into a new file.

A recorder killed mid-session (kill -9, a power cut) leaves no StreamFooter
chunks; disk or copy errors leave damaged chunks. ``repair`` reads the file
with the tolerant index (``acquisition.xdf_index``), copies every chunk that
is whole, in its original order and byte for byte, drops what is damaged
(the report names it), and appends a Boundary and a StreamFooter for every
stream that has none: first and last stamp, sample count and measured rate
from the data, and all the stream's clock offsets.

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
    boundary_chunk,
    file_header_chunk,
    measured_srate,
    stream_footer_chunk,
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
    footers_kept: list[str] = field(default_factory=list)
    bytes_written: int = 0

    def lines(self) -> list[str]:
        """What was done, for the operator."""
        out = [f"repaired copy: {self.out} ({self.bytes_written} bytes)"]
        if self.footers_added:
            out.append(f"footers recomputed for {len(self.footers_added)} stream(s): " + ", ".join(self.footers_added))
        if self.footers_kept:
            out.append("footers kept: " + ", ".join(self.footers_kept))
        if self.index.truncated:
            out.append(f"{self.source} ends inside a chunk (cut off): that last partial chunk is left out")
        if self.index.problems:
            out.append(self.index.summary())
        if not (self.footers_added or self.index.truncated or self.index.problems):
            out.append("no damage found and every stream had its footer: the copy equals the data of the original")
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
    spans: list[tuple[int, int, int]] = []
    index = build_index(source, on_chunk=lambda start, end, tag: spans.append((start, end, tag)))
    report = RepairReport(source, out, index)
    tail = bytearray()
    missing = [s for s in index.streams.values() if not s.footer]
    if missing:
        tail += boundary_chunk()
        for stream in missing:
            tail += footer_for(stream)
            report.footers_added.append(f"{stream.name or stream.stream_id} ({stream.sample_count} samples)")
    report.footers_kept = [s.name or str(s.stream_id) for s in index.streams.values() if s.footer]
    head = MAGIC if spans and spans[0][2] == TAG_FILE_HEADER else MAGIC + file_header_chunk()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    except FileExistsError:
        raise XDFError(f"{out}: already exists; repair never overwrites a file (choose another --out)") from None
    except OSError as exc:
        raise XDFError(f"{out}: cannot create: {exc.strerror or exc}") from exc
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
            dst.write(head)
            _copy_spans(src, dst, _merge(spans), index.size, progress)
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


def _merge(spans: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """Adjacent chunks joined into runs, so whole stretches copy in large blocks."""
    runs: list[tuple[int, int]] = []
    for start, end, _ in spans:
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


def _copy_spans(src, dst, runs: list[tuple[int, int]], total: int, progress: Progress | None) -> None:
    for start, end in runs:
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
