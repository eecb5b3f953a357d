"""A headless recording from start to summary, with a progress line.

Shared by ``main.py record`` and the demo, so both behave the same on
signals, errors and the final summary.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pylsl
import zmq

from acquisition.discovery import matches
from acquisition.recorder import Recorder, StreamStatus
from sync.ordering import format_spans
from sync.protocol import check_endpoint
from sync.server import MarkerServer
from sync.streams import RELAY_PREDICATE


def format_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def progress_line(recorder: Recorder, duration: float | None) -> str:
    rows = recorder.status()
    total = f"/{duration:.0f}" if duration else ""
    counts = "  ".join(f"{r.name}:{r.samples}" for r in rows)
    return f"recording {recorder.elapsed:6.1f}{total} s | {len(rows)} streams | " \
           f"{format_size(recorder.writer.size)} | {counts}"


MIN_RATE_SAMPLES = 10  # fewer samples than this say nothing about a rate


def measured_rate(row: StreamStatus) -> str:
    """The measured rate where it means something: a regular stream with enough samples; else "-"."""
    if row.nominal_srate <= 0 or row.samples < MIN_RATE_SAMPLES:
        return "-"
    return f"{row.measured_srate:.2f}"


def summary_table(rows: list[StreamStatus], seconds: float) -> str:
    """Per stream: samples, nominal and measured rate, gaps; what a technician checks first."""
    header = f"{'stream':<28} {'type':<16} {'host':<12} {'samples':>9} {'nominal':>8} {'measured':>9} {'gaps':>5}"
    lines = [header, "-" * len(header)]
    for r in rows:
        nominal = f"{r.nominal_srate:g}" if r.nominal_srate else "irreg"
        gaps = f"{r.gaps}" + (f" ({r.gap_seconds:.2f}s)" if r.gaps else "")
        line = f"{r.name[:28]:<28} {r.type[:16]:<16} {r.hostname[:12]:<12} {r.samples:>9} " \
               f"{nominal:>8} {measured_rate(r):>9} {gaps:>5}"
        if r.error:
            line += f"  ERROR: {r.error}"
        lines.append(line)
    lines.append(f"{len(rows)} streams, {seconds:.1f} s recorded")
    return "\n".join(lines)


def wait_for_stop(recorder: Recorder, stop: threading.Event, duration: float | None,
                  out: TextIO = sys.stderr, tick: Callable[[], None] | None = None) -> None:
    """Show progress until ``stop`` is set or ``duration`` has passed."""
    interactive = out.isatty()
    deadline = None if duration is None else time.monotonic() + duration
    last_line = 0.0
    while not stop.is_set():
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        stop.wait(0.5 if remaining is None else min(0.5, remaining))
        if tick is not None:
            tick()
        now = time.monotonic()
        if interactive:
            out.write("\r" + progress_line(recorder, duration)[:150].ljust(150))
            out.flush()
        elif now - last_line >= 5.0:
            out.write(progress_line(recorder, duration) + "\n")
            last_line = now
    if interactive:
        out.write("\n")


def marker_report(stats: dict) -> str:
    """One line on the marker bus: what came, what was refused or lost, and why."""
    line = f"markers: {stats['stored']} recorded from {len(stats['senders'])} sender(s)"
    if stats["duplicates"]:
        line += f", {stats['duplicates']} resent copies dropped"
    rejected = {why: n for why, n in stats["rejected"].items() if n}
    if rejected:
        line += ", rejected " + ", ".join(f"{n} {why}" for why, n in sorted(rejected.items()))
    for sender, ranges in stats["lost"].items():
        if ranges:
            line += f"; LOST from {sender}: seq {format_spans(ranges)}"
    return line


def start_marker_server(recorder: Recorder, endpoint: str, allow_network: bool = False) -> MarkerServer:
    """Markers received on ``endpoint`` go into the recording (and out again on LSL)."""
    return MarkerServer(recorder, endpoint, allow_network=allow_network).start()


def record_session(path: Path, queries: list[str], initial: list[pylsl.StreamInfo],
                   stop: threading.Event, duration: float | None, marker_endpoint: str | None,
                   required: list[str] | None = None, allow_network: bool = False,
                   on_started: Callable[[Recorder, MarkerServer | None], None] | None = None) -> int:
    """Record until stopped; print the summary. Returns the process exit code.

    With ``marker_endpoint`` a marker server records the stimulus markers in
    the same file; its own LSL relay is left out so no marker is stored twice.
    ``on_started`` runs once recording has begun (the demo starts its task there).
    """
    exclude = [RELAY_PREDICATE] if marker_endpoint else []
    if marker_endpoint:
        try:
            check_endpoint(marker_endpoint, allow_network)
        except ValueError as exc:
            print(f"error: --markers: {exc}", file=sys.stderr)
            return 2
    recorder = Recorder(path, queries, exclude=exclude)
    try:
        recorder.start(initial)
    except OSError as exc:
        print(f"error: cannot create {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    server = None
    try:
        if marker_endpoint:
            server = start_marker_server(recorder, marker_endpoint, allow_network)
            print(f"markers: listening on {server.endpoint}", file=sys.stderr)
    except zmq.ZMQError as exc:
        recorder.stop()
        path.unlink()  # nothing was recorded yet; leave no file behind a failed start
        print(f"error: cannot receive markers on {marker_endpoint}: {exc} "
              "(another recording running? use --markers with another port, or 'off')", file=sys.stderr)
        return 2
    print(f"recording to {path}", file=sys.stderr)
    try:
        if on_started is not None:
            on_started(recorder, server)
        wait_for_stop(recorder, stop, duration)
    finally:
        if server is not None:  # markers first: an ack means "in the file"
            server.close()
        rows = recorder.stop()
    print(summary_table(rows, recorder.elapsed))
    if server is not None:
        print(marker_report(server.stats()))
    print(f"saved {path} ({format_size(path.stat().st_size)})")
    for predicate in never_recorded(recorder, required or []):
        print(f"warning: required stream {predicate} never appeared; it is not in {path.name}", file=sys.stderr)
    return 0


def never_recorded(recorder: Recorder, required: list[str]) -> list[str]:
    """The required predicates that no recorded stream satisfies (started with --allow-missing)."""
    infos = [reader.info.as_xml() for reader in recorder.readers.values()]
    return [p for p in required if not any(matches(xml, p) for xml in infos)]
