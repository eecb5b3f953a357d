"""A headless recording from start to summary, with a progress line: the CLI face of the service.

``main.py record`` runs it; it prints what ``acquisition.service`` reports
and turns the service's errors into exit codes: 2 when the recording could
not start, 4 when it broke while running (disk full, file deleted), 0 when
the file is whole.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import pylsl

from acquisition.service import (
    RecordingError,
    RecordingService,
    ServiceStatus,
    format_size,
    summary_text,
)

EXIT_START_FAILED = 2
EXIT_RECORDING_FAILED = 4


def progress_line(status: ServiceStatus, duration: float | None) -> str:
    total = f"/{duration:.0f}" if duration else ""
    counts = "  ".join(f"{r.name}:{r.samples}" for r in status.rows)
    return f"recording {status.elapsed:6.1f}{total} s | {len(status.rows)} streams | " \
           f"{format_size(status.size)} | {counts}"


def wait_for_stop(service: RecordingService, stop: threading.Event, duration: float | None,
                  out: TextIO = sys.stderr) -> None:
    """Show progress until ``stop`` is set, ``duration`` has passed or the recording broke.

    A fault or warning is printed the moment it appears, not at the end.
    """
    interactive = out.isatty()
    deadline = None if duration is None else time.monotonic() + duration
    last_line = 0.0
    told: set[str] = set()
    while not stop.is_set() and not service.finished.is_set():
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        stop.wait(0.2 if remaining is None else min(0.2, remaining))
        status = service.status()
        for note in (status.warning, status.error):
            if note and note not in told:
                told.add(note)
                out.write(("\n" if interactive else "") + f"{'error' if note == status.error else 'warning'}: "
                          f"{note}\n")
                out.flush()
        now = time.monotonic()
        if status.state != "recording":
            break
        if interactive:
            out.write("\r" + progress_line(status, duration)[:150].ljust(150))
            out.flush()
        elif now - last_line >= 5.0:
            out.write(progress_line(status, duration) + "\n")
            last_line = now
    if interactive:
        out.write("\n")


def record_session(path: Path, queries: list[str], initial: list[pylsl.StreamInfo],
                   stop: threading.Event, duration: float | None, marker_endpoint: str | None,
                   required: list[str] | None = None, allow_network: bool = False, on_exists: str = "refuse",
                   on_started: Callable[[RecordingService], None] | None = None) -> int:
    """Record until stopped; print the summary. Returns the process exit code.

    With ``marker_endpoint`` a marker server records the stimulus markers in
    the same file; its own LSL relay is left out so no marker is stored twice.
    """
    service = RecordingService(marker_endpoint, allow_network=allow_network)
    try:
        path = service.start(path, queries, initial, on_exists=on_exists, required=required)
    except RecordingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_START_FAILED
    status = service.status()
    if status.markers:
        print(f"markers: listening on {status.markers}", file=sys.stderr)
    print(f"recording to {path}", file=sys.stderr)
    try:
        if on_started is not None:
            on_started(service)
        wait_for_stop(service, stop, duration)
    finally:
        result = service.stop()
    print(summary_text(result))
    for predicate in result.missing:
        print(f"warning: required stream {predicate} never appeared; it is not in {result.path.name}",
              file=sys.stderr)
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return EXIT_RECORDING_FAILED
    return 0
