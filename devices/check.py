"""The device check: is a stream fit to record? Measured against what it claims.

For one LSL stream over a span of time: the rate against the nominal rate,
timestamp jitter, gaps, stamps that go backwards, the clock offset to this
computer and, for gaze, how much of it is valid. Each becomes a row with a
pass/fail verdict a technician can act on. Only counts and interval
statistics are kept, so a long check of a fast stream stays small.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pylsl
from pylsl.util import TimeoutError as LSLTimeoutError

from devices.gaze_layouts import GazeLayout, recognise

MAX_RATE_ERROR = 0.05  # measured rate within 5 % of nominal
MAX_JITTER = 0.5  # SD of sample intervals, as a fraction of the nominal period
MIN_GAP = 0.05  # seconds: shorter holes are not gaps whatever the rate


@dataclass
class Row:
    check: str
    measured: str
    expected: str
    ok: bool | None  # None: for information only

    @property
    def verdict(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "FAIL")


@dataclass
class Measurement:
    name: str
    source_id: str
    type: str
    nominal_srate: float
    layout: GazeLayout | None = None
    samples: int = 0
    first: float = math.nan
    last: float = math.nan
    backwards: int = 0
    repeated: int = 0
    gaps: list[float] = field(default_factory=list)
    interval_sum: float = 0.0
    interval_sq: float = 0.0
    intervals: int = 0
    gaze_samples: int = 0
    gaze_valid: int = 0
    offsets: list[float] = field(default_factory=list)
    offset_error: str = ""
    seconds: float = 0.0

    def add(self, stamps: np.ndarray, values: np.ndarray | None) -> None:
        if not len(stamps):
            return
        joined = stamps if math.isnan(self.last) else np.concatenate(([self.last], stamps))
        steps = np.diff(joined)
        self.backwards += int(np.sum(steps < 0))
        self.repeated += int(np.sum(steps == 0))
        if self.nominal_srate > 0:
            gap = max(3.0 / self.nominal_srate, MIN_GAP)
            self.gaps.extend(float(s) for s in steps[steps > gap])
            steps = steps[steps <= gap]  # jitter is the spread of ordinary intervals; gaps are their own row
        self.interval_sum += float(steps.sum())
        self.interval_sq += float(np.sum(steps ** 2))
        self.intervals += len(steps)
        if math.isnan(self.first):
            self.first = float(stamps[0])
        self.last = float(stamps[-1])
        self.samples += len(stamps)
        if self.layout is not None and values is not None and len(values):
            gaze = self.layout.canonical(values)
            self.gaze_samples += len(gaze)
            self.gaze_valid += int(gaze.valid().sum())


def measure(info: pylsl.StreamInfo, seconds: float, progress: Callable[[float], None] | None = None,
            stop: Callable[[], bool] = lambda: False) -> Measurement:
    """Pull one stream for ``seconds`` and keep the statistics the check needs."""
    inlet = pylsl.StreamInlet(info, max_buflen=max(2, int(seconds) + 10), processing_flags=0)
    inlet.open_stream(timeout=10.0)
    full = inlet.info(timeout=10.0)
    m = Measurement(full.name(), full.source_id(), full.type(), full.nominal_srate())
    m.layout = recognise(full)
    numeric = full.channel_format() != pylsl.cf_string
    start = time.monotonic()
    next_offset = start
    next_progress = start + 1.0
    while time.monotonic() - start < seconds and not stop():
        chunk, stamps = inlet.pull_chunk(timeout=0.2, max_samples=4096)
        values = np.asarray(chunk, dtype=float) if (numeric and m.layout is not None and chunk) else None
        m.add(np.asarray(stamps, dtype=float), values)
        now = time.monotonic()
        if now >= next_offset:
            next_offset = now + 2.0
            try:
                m.offsets.append(inlet.time_correction(timeout=2.0))
            except LSLTimeoutError:
                m.offset_error = "no answer to LSL time probes"
        if progress is not None and now >= next_progress:
            next_progress = now + 1.0
            progress(min(1.0, (now - start) / seconds))
    m.seconds = time.monotonic() - start
    inlet.close_stream()
    return m


def evaluate(m: Measurement, min_valid: float = 0.5, clock: bool = True) -> list[Row]:
    """Pass/fail rows for one measurement (``clock``: include the clock-offset row)."""
    rows = [Row("samples", f"{m.samples} in {m.seconds:.0f} s", "> 0", m.samples > 0)]
    if m.samples < 2:
        return rows
    span = m.last - m.first
    rate = (m.samples - 1) / span if span > 0 else math.inf
    if m.nominal_srate > 0:
        error = abs(rate - m.nominal_srate) / m.nominal_srate
        rows.append(Row("rate", f"{rate:.2f} Hz", f"{m.nominal_srate:g} Hz +-{MAX_RATE_ERROR:.0%}",
                        error <= MAX_RATE_ERROR))
        period = 1.0 / m.nominal_srate
        mean = m.interval_sum / max(m.intervals, 1)
        sd = math.sqrt(max(0.0, m.interval_sq / max(m.intervals, 1) - mean ** 2))
        rows.append(Row("jitter (SD of intervals)", f"{sd * 1000:.2f} ms", f"< {MAX_JITTER * period * 1000:.2f} ms",
                        sd < MAX_JITTER * period))
        limit = max(3 * period, MIN_GAP)
        longest = f", longest {max(m.gaps) * 1000:.0f} ms" if m.gaps else ""
        rows.append(Row("gaps", f"{len(m.gaps)}{longest}", f"none > {limit * 1000:.0f} ms", not m.gaps))
    else:
        rows.append(Row("rate (irregular stream)", f"{rate:.2f} per s", "-", None))
    rows.append(Row("monotonic stamps", f"{m.backwards} backwards, {m.repeated} repeated", "none backwards",
                    m.backwards == 0))
    if not clock:
        pass
    elif m.offsets:
        spread = (max(m.offsets) - min(m.offsets)) * 1000
        rows.append(Row("clock offset to this computer", f"{m.offsets[-1] * 1000:+.3f} ms (spread {spread:.3f} ms)",
                        "answers", True))
    else:
        rows.append(Row("clock offset to this computer", m.offset_error or "not measured", "answers", False))
    if m.layout is not None:
        valid = m.gaze_valid / m.gaze_samples if m.gaze_samples else 0.0
        rows.append(Row(f"gaze valid ({m.layout.name} layout)", f"{valid:.0%}", f">= {min_valid:.0%}",
                        valid >= min_valid))
    return rows


def check_window(stamps: np.ndarray, values: np.ndarray | None, nominal_srate: float,
                 layout: GazeLayout | None, min_valid: float = 0.5) -> list[Row]:
    """The check's rows for samples already in hand (the panel's live buffers); no clock row."""
    m = Measurement("", "", "", nominal_srate, layout=layout)
    m.add(np.asarray(stamps, dtype=float), values)
    m.seconds = float(stamps[-1] - stamps[0]) if len(stamps) else 0.0
    return evaluate(m, min_valid, clock=False)


def failures(rows: list[Row]) -> str:
    """The failed rows in one line, e.g. ``rate 70.00 Hz (want 100 Hz +-5%)``; empty when all pass."""
    return "; ".join(f"{r.check} {r.measured} (want {r.expected})" for r in rows if r.ok is False)


def passed(rows: list[Row]) -> bool:
    return all(r.ok is not False for r in rows)


def format_table(title: str, rows: list[Row]) -> str:
    widths = [max(len(h), *(len(getattr(r, a)) for r in rows)) for h, a in
              (("check", "check"), ("measured", "measured"), ("expected", "expected"))]
    line = "  {{:<{}}}  {{:<{}}}  {{:<{}}}  {{}}".format(*widths)
    out = [title, line.format("check", "measured", "expected", "result")]
    out += [line.format(r.check, r.measured, r.expected, r.verdict) for r in rows]
    return "\n".join(out)
