"""Generator of XDF test files with what real files carry (see tests/test_xdf_real_world.py).

Each builder writes bytes chunk by chunk with the format module's
primitives and remembers where every chunk starts, so damaged copies can
change exactly one field: a cut, a changed length, a bad length-width
byte, inserted garbage, a huge length.

- ``minimal``: a 3-channel int16 stream and a string stream, 9 samples each, footers;
- ``clock_reset``: the sender's clock restarts mid-recording (stamps jump
  back by ~1000 s; the ClockOffset measurements jump with them);
- ``implicit_and_empty``: every second chunk starts on an implicit stamp
  (byte 0), numeric and string, plus two streams without samples;
- ``damage_base``: several streams, Boundary chunks every few chunks, for the damaged copies;
- ``run_labrecorder``: a recording by the real LabRecorderCLI (the ``labrecorder`` wheel).
"""
from __future__ import annotations

import os
import struct
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pylsl

from acquisition.xdf_format import (
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
from bench.recorder_labrecorder import LabRecorderMissing, prepare
from tests.support import wait_for

LABRECORDER_MISSING = ""  # why the LabRecorder files are missing, if they are


def stream_info_xml(name: str, type_: str, channel_count: int, nominal_srate: float, fmt: str,
                    source_id: str = "", channels: Sequence[dict] | None = None) -> str:
    """A minimal LSL-style stream header, as recorders write it."""
    desc = ""
    if channels:
        items = "".join(
            "<channel>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in ch.items()) + "</channel>"
            for ch in channels
        )
        desc = f"<channels>{items}</channels>"
    return (
        '<?xml version="1.0"?><info>'
        f"<name>{escape(name)}</name><type>{escape(type_)}</type>"
        f"<channel_count>{channel_count}</channel_count>"
        f"<nominal_srate>{nominal_srate!r}</nominal_srate>"
        f"<channel_format>{fmt}</channel_format>"
        f"<source_id>{escape(source_id)}</source_id>"
        f"<created_at>0</created_at><desc>{desc}</desc></info>"
    )



@dataclass
class Built:
    """A file's bytes and the start of each chunk, as (offset, tag, stream id or None)."""

    data: bytearray = field(default_factory=lambda: bytearray(MAGIC))
    chunks: list[tuple[int, int, int | None]] = field(default_factory=list)
    stats: dict[int, list] = field(default_factory=dict)  # sid -> [first, last, count, offsets]

    def add(self, raw: bytes, tag: int, sid: int | None = None) -> None:
        self.chunks.append((len(self.data), tag, sid))
        self.data += raw

    def header(self) -> Built:
        self.add(file_header_chunk(), 1)
        return self

    def stream(self, sid: int, name: str, type_: str, nch: int, rate: float, fmt: str) -> Built:
        self.add(stream_header_chunk(sid, stream_info_xml(name, type_, nch, rate, fmt, f"src-{name}")), 2, sid)
        self.stats[sid] = [None, None, 0, []]
        return self

    def samples(self, sid: int, fmt: str, stamps: list[float | None], values) -> Built:
        """A Samples chunk; a stamp of None is written implicit (byte 0)."""
        body = bytearray(struct.pack("<I", sid) + varlen(len(stamps)))
        for stamp, sample in zip(stamps, values):
            body += b"\x00" if stamp is None else struct.pack("<Bd", 8, stamp)
            if fmt == "string":
                for text in sample:
                    raw = text.encode()
                    body += varlen(len(raw)) + raw
            else:
                body += np.asarray(sample, dtype=NUMERIC_FORMATS[fmt]).tobytes()
        self.add(chunk(TAG_SAMPLES, bytes(body)), 3, sid)
        return self

    def offset(self, sid: int, when: float, value: float) -> Built:
        self.add(clock_offset_chunk(sid, when, value), 4, sid)
        self.stats[sid][3].append((when, value))
        return self

    def boundary(self) -> Built:
        self.add(boundary_chunk(), 5)
        return self

    def footer(self, sid: int, first: float, last: float, count: int) -> Built:
        self.add(stream_footer_chunk(sid, first, last, count, measured_srate(first, last, count),
                                     self.stats[sid][3]), 6, sid)
        return self

    def write(self, path: Path) -> Path:
        path.write_bytes(bytes(self.data))
        return path


def minimal(path: Path, prefix: str = "") -> Path:
    """Like the XDF project's minimal example: 9 samples of int16 x3 at 10 Hz and 9 strings."""
    b = Built().header().stream(0, f"{prefix}SendDataC", "EEG", 3, 10.0, "int16")
    b.stream(46202862, f"{prefix}SendDataString", "StringMarker", 1, 10.0, "string")
    b.offset(0, 5.0, -0.01).offset(46202862, 5.0, -0.02)
    values = [[192, 255, 238], [12, 22, 32], [13, 23, 33], [14, 24, 34], [15, 25, 35],
              [12, 22, 32], [13, 23, 33], [14, 24, 34], [15, 25, 35]]
    stamps = [5.1 + 0.1 * i for i in range(9)]
    b.samples(0, "int16", stamps[:5], values[:5]).samples(0, "int16", stamps[5:], values[5:])
    words = ['<?xml version="1.0"?><info><writer>LabRecorder xdfwriter</writer><first_timestamp>5.1'
             '</first_timestamp><last_timestamp>5.9</last_timestamp><sample_count>9</sample_count>'
             '<clock_offsets><offset><time>50979.76</time><value>-.01</value></offset></clock_offsets></info>',
             *[f"Hello {i}" for i in range(8)]]
    b.samples(46202862, "string", stamps, [[w] for w in words])
    b.offset(0, 6.0, -0.01).offset(46202862, 6.0, -0.02).boundary()
    b.footer(0, stamps[0], stamps[-1], 9).footer(46202862, stamps[0], stamps[-1], 9)
    return b.write(path)


def clock_reset(path: Path, prefix: str = "") -> Path:
    """A sender whose clock restarts: stamps 1000-1010 s, then 2-12 s; the recorder's clock runs on.

    Recorder time = sender stamp + offset: 6000-6010 s before the reset
    (offset 5000), 6011-6021 s after it (offset 6009). Offsets are measured
    every second (small jitter), at sender times, as LabRecorder writes them.
    """
    rng = np.random.default_rng(7)
    b = Built().header().stream(1, f"{prefix}ResetEEG", "EEG", 2, 50.0, "float32")
    b.stream(2, f"{prefix}ResetMarkers", "Markers", 1, 0.0, "string")
    count = 0
    for seg_start, offset in ((1000.0, 5000.0), (2.0, 6009.0)):
        for second in range(10):
            t = seg_start + second
            b.offset(1, t, offset + rng.normal(0, 1e-4)).offset(2, t, offset + rng.normal(0, 1e-4))
            stamps = [t + k / 50.0 for k in range(50)]
            b.samples(1, "float32", stamps, [[count + k, -(count + k)] for k in range(50)])
            b.samples(2, "string", [t + 0.5], [[f"marker {count // 50}"]])
            count += 50
            if second % 3 == 2:
                b.boundary()
        b.offset(1, seg_start + 10, offset).offset(2, seg_start + 10, offset)
    b.boundary().footer(1, 1000.0, 11.98, count).footer(2, 1000.5, 11.5, count // 50)
    return b.write(path)


def implicit_and_empty(path: Path, prefix: str = "") -> Path:
    """Every second chunk starts on an implicit stamp; two streams never get a sample."""
    b = Built().header().stream(1, f"{prefix}ImplicitNum", "EEG", 2, 10.0, "double64")
    b.stream(2, f"{prefix}ImplicitTxt", "Markers", 1, 10.0, "string")
    b.stream(3, f"{prefix}EmptyNum", "EEG", 4, 100.0, "float32")
    b.stream(4, f"{prefix}EmptyTxt", "Markers", 1, 0.0, "string")
    t, n = 10.0, 0
    for k in range(6):
        stamps: list[float | None] = [t + i / 10.0 for i in range(5)]
        if k % 2:  # this chunk's first sample carries no stamp: previous + 1/rate
            stamps[0] = None
        if k % 3 == 1:  # and so do some samples inside it
            stamps[2] = None
        b.samples(1, "double64", stamps, [[n + i, 0.5 * (n + i)] for i in range(5)])
        b.samples(2, "string", stamps, [[f"w{n + i}"] for i in range(5)])
        t += 0.5
        n += 5
    for sid in (1, 2, 3, 4):
        b.offset(sid, 10.0, 0.25)
    b.boundary()
    b.footer(1, 10.0, t - 0.1, n).footer(2, 10.0, t - 0.1, n).footer(3, 0.0, 0.0, 0).footer(4, 0.0, 0.0, 0)
    return b.write(path)


def damage_base(prefix: str = "") -> Built:
    """Three streams over 24 chunks, a Boundary after every third chunk, offsets and footers."""
    b = Built().header().stream(1, f"{prefix}DmgGSR", "GSR", 1, 128.0, "float32")
    b.stream(2, f"{prefix}DmgGaze", "Gaze", 3, 60.0, "double64")
    b.stream(3, f"{prefix}DmgMarkers", "Markers", 1, 0.0, "string")
    counts = {1: 0, 2: 0, 3: 0}
    for k in range(8):
        t = 100.0 + k * 0.5
        b.samples(1, "float32", [t + i / 128.0 for i in range(64)], [[counts[1] + i] for i in range(64)])
        b.samples(2, "double64", [t + i / 60.0 for i in range(30)], [[counts[2] + i, i, -i] for i in range(30)])
        b.samples(3, "string", [t + 0.25], [[f'{{"event": "e{k}"}}']])
        counts[1] += 64
        counts[2] += 30
        counts[3] += 1
        for sid in (1, 2, 3):
            b.offset(sid, t, 0.001 * k)
        b.boundary()
    b.footer(1, 100.0, 103.5 + 63 / 128, counts[1]).footer(2, 100.0, 103.5 + 29 / 60, counts[2])
    b.footer(3, 100.25, 103.75, counts[3])
    return b


def damaged_copies(folder: Path, prefix: str = "") -> dict[str, Path]:
    """The base file, and copies with one kind of damage each, around a Samples chunk in the middle."""
    base = damage_base(prefix)
    data = bytes(base.data)
    samples = [start for start, tag, _ in base.chunks if tag == 3]
    victim = samples[len(samples) // 2]
    width = data[victim]
    length = struct.unpack_from({1: "<B", 4: "<I"}[width], data, victim + 1)[0]
    after = victim + 1 + (1 if width == 1 else 4)
    raw_length = {1: "<B", 4: "<I"}[width]

    def with_length(value: int) -> bytes:
        return data[:victim + 1] + struct.pack(raw_length, value) + data[after:]

    copies = {
        "intact": data,
        "cut": data[: samples[-2] + 40],
        "length_plus_3": with_length(length + 3),
        "length_minus_3": with_length(length - 3),
        "bad_width_byte": data[:victim] + b"\x03" + data[victim + 1:],
        "garbage_inserted": data[:victim] + b"\xff" + bytes(range(200)) + data[victim:],
        "huge_length": data[:victim] + struct.pack("<BQ", 8, 2**40) + data[after:],
    }
    paths = {}
    for name, raw in copies.items():
        path = folder / f"damaged_{name}.xdf"
        path.write_bytes(raw)
        paths[name] = path
    return paths


# -- LabRecorderCLI recordings ----------------------------------------------------
def run_labrecorder(folder: Path, prefix: str) -> Path:
    """Record three streams (one never sends) with the real LabRecorderCLI."""
    binary, env = prepare(folder / "bin")  # LabRecorderMissing when the wheel is not installed
    outlets = {
        "Num": pylsl.StreamOutlet(pylsl.StreamInfo(f"{prefix}Num", "EEG", 4, 100.0, "float32", f"{prefix}-num")),
        "Txt": pylsl.StreamOutlet(pylsl.StreamInfo(f"{prefix}Txt", "Markers", 1, 0.0, "string", f"{prefix}-txt")),
        "Empty": pylsl.StreamOutlet(pylsl.StreamInfo(f"{prefix}Empty", "EEG", 2, 10.0, "int16", f"{prefix}-e")),
    }
    path = folder / "labrecorder.xdf"
    proc = subprocess.Popen([str(binary), str(path), *(f"name='{prefix}{k}'" for k in outlets)],
                            env={**os.environ, **env}, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: all(o.have_consumers() for o in outlets.values()), 30.0, "LabRecorderCLI to connect")
        n = 0
        for k in range(20):
            block = np.arange(n * 4, (n + 10) * 4, dtype=np.float32).reshape(10, 4)
            outlets["Num"].push_chunk(block.tolist())
            outlets["Txt"].push_sample([f"marker {k} é"])
            n += 10
            time.sleep(0.05)
        time.sleep(1.0)  # LabRecorder pulls every 500 ms; it has no other way to say it has the tail
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        if proc.wait(30) != 0:
            raise RuntimeError(f"LabRecorderCLI exited with {proc.returncode}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return path


def all_files(folder: Path, prefix: str) -> dict[str, Path]:
    """Every test file: generated ones, damaged copies, a LabRecorderCLI recording and a cut copy of it.

    Without the labrecorder wheel the LabRecorder files are left out and
    ``LABRECORDER_MISSING`` says why.
    """
    global LABRECORDER_MISSING
    out = {
        "minimal": minimal(folder / "minimal.xdf", prefix),
        "clock_reset": clock_reset(folder / "clock_reset.xdf", prefix),
        "implicit_and_empty": implicit_and_empty(folder / "implicit.xdf", prefix),
    }
    out.update({f"damaged_{k}": v for k, v in damaged_copies(folder, prefix).items()})
    try:
        lab = run_labrecorder(folder, prefix)
    except LabRecorderMissing as exc:
        LABRECORDER_MISSING = str(exc)
        return out
    out["labrecorder"] = lab
    data = lab.read_bytes()
    cut = folder / "labrecorder_cut.xdf"
    cut.write_bytes(data[: len(data) - 700])
    out["labrecorder_cut"] = cut
    return out
