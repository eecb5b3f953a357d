"""The one recording service: start, stop, status, markers and the summary.

``main.py record`` (and the demo), ``main.py serve`` and the control panel
all record through this class, so every failure is handled once, one way.
The policy: a command that did not do what it says raises
``RecordingError`` and is shown as an error. A start that cannot receive
markers (endpoint busy or refused) is a failed start: nothing records and
no file is left behind (CLI: error, exit 2; ``serve``: ``ERROR: ...``;
panel: red banner, not recording). A recording that breaks while running
(disk full, write error) stops at once, finishes its file (whole chunks,
footers if space allows) and reports the fault as an error (CLI: exit 4;
``serve``: ``status`` and ``stop`` answer ``ERROR: ...``; panel: red
banner). A file whose folder was deleted is finished into a recovery
path that the error names.

The service never imports the GUI; the panel passes a ``prepare`` hook
(its live view) and a ``marker_sink`` (to show markers as they arrive).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pylsl
import zmq

from acquisition.discovery import matches
from acquisition.naming import NamingError, prepare_output
from acquisition.recorder import Recorder, StreamStatus
from sync.ordering import format_spans
from sync.protocol import check_server_security
from sync.server import MarkerServer
from sync.streams import RELAY_PREDICATE

log = logging.getLogger(__name__)

IDLE, RECORDING, STOPPED, FAILED = "idle", "recording", "stopped", "failed"
WATCH_INTERVAL = 0.1  # how soon a disk fault stops the recording (seconds)


class RecordingError(RuntimeError):
    """A start, stop or recording that did not do what it says; the message is for the operator."""


@dataclass(frozen=True)
class ServiceStatus:
    """What a client shows: state, file, progress, and the error if there is one."""

    state: str = IDLE
    path: Path | None = None
    started_at: float | None = None  # local LSL clock
    elapsed: float = 0.0
    size: int = 0
    rows: tuple[StreamStatus, ...] = ()
    markers: str = ""  # the endpoint markers are received on ("" when off)
    error: str = ""  # a fault that stopped (or will stop) the recording
    warning: str = ""  # something the operator must know now, recording goes on


@dataclass
class RecordingResult:
    """A finished recording: where the file is, what is in it, and what went wrong."""

    path: Path
    rows: list[StreamStatus]
    seconds: float
    size: int
    markers: dict[str, Any] | None = None  # the marker server's statistics
    missing: list[str] = field(default_factory=list)  # required predicates never recorded
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def format_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


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
            count = stats.get("lost_count", {}).get(sender, 0)
            shown = sum(b - a + 1 for a, b in ranges)
            more = f" and {count - shown} more" if count > shown else ""
            line += f"; LOST from {sender}: seq {format_spans(ranges)}{more}"
    if stats.get("refused_senders"):
        line += "; REFUSED senders (over the limit): " + ", ".join(stats["refused_senders"])
    return line


def summary_text(result: RecordingResult) -> str:
    """The summary every client prints or logs: streams, markers, the file."""
    lines = [summary_table(result.rows, result.seconds)]
    if result.markers is not None:
        lines.append(marker_report(result.markers))
    lines.append(f"saved {result.path} ({format_size(result.size)})")
    return "\n".join(lines)


def never_recorded(recorder: Recorder, required: list[str]) -> list[str]:
    """The required predicates that no recorded stream satisfies (started with --allow-missing)."""
    infos = [reader.info.as_xml() for reader in recorder.readers.values()]
    return [p for p in required if not any(matches(xml, p) for xml in infos)]


class RecordingService:
    """One recording at a time: start, status, stop; markers from the ZeroMQ bus go in the same file.

    Thread-safe: the panel starts from a worker thread, ``serve`` from its
    client threads, and a watcher stops the recording on a disk fault.
    """

    def __init__(self, marker_endpoint: str | None = None, *, allow_network: bool = False,
                 poll_interval: float = 0.5, prepare: Callable[[Recorder], None] | None = None,
                 marker_sink: Callable[[Recorder], Any] | None = None,
                 marker_options: dict[str, Any] | None = None) -> None:
        self.marker_endpoint = marker_endpoint or None
        self.allow_network = allow_network
        self.marker_options = dict(marker_options or {})  # MarkerServer's keys, insecure, max_senders
        self.poll_interval = poll_interval
        self.prepare = prepare
        self.marker_sink = marker_sink
        self.recorder: Recorder | None = None
        self.server: MarkerServer | None = None
        self.result: RecordingResult | None = None
        self.finished = threading.Event()  # set when a recording has ended (stopped or failed)
        self._required: list[str] = []
        self._uncollected = False  # a recording ended by a fault whose result no stop() has taken yet
        self._lock = threading.RLock()
        self._watcher: threading.Thread | None = None

    # -- start -------------------------------------------------------------
    def start(self, path: Path, queries: list[str] | None = None, initial: list[pylsl.StreamInfo] | None = None,
              *, on_exists: str = "refuse", required: list[str] | None = None) -> Path:
        """Begin recording to ``path``; returns the file. Raises RecordingError and leaves no file if it cannot."""
        with self._lock:
            if self.recorder is not None:
                raise RecordingError(f"already recording to {self.recorder.path}")
            if self.marker_endpoint:
                try:
                    check_server_security(self.marker_endpoint, self.allow_network,
                                          self.marker_options.get("keys"), self.marker_options.get("insecure", False))
                except ValueError as exc:
                    raise RecordingError(f"marker endpoint (--markers): {exc}") from None
            try:
                path = prepare_output(path, on_exists)
                exclude = [RELAY_PREDICATE] if self.marker_endpoint else []  # markers are stored once
                recorder = Recorder(path, list(queries or []), exclude=exclude, poll_interval=self.poll_interval)
            except (NamingError, FileExistsError, ValueError) as exc:
                raise RecordingError(str(exc)) from None
            if self.prepare is not None:
                self.prepare(recorder)
            try:
                recorder.start(initial)
            except OSError as exc:
                raise RecordingError(f"cannot create {path}: {exc.strerror or exc}") from None
            try:
                self.server = self._start_markers(recorder)
            except (zmq.ZMQError, OSError) as exc:
                recorder.stop()
                path.unlink(missing_ok=True)  # nothing was recorded yet: leave no file behind a failed start
                raise RecordingError(f"cannot receive markers on {self.marker_endpoint}: {exc} (another "
                                     "recording running? choose another marker port, or turn markers off)") from None
            self.recorder, self.result, self._required = recorder, None, list(required or [])
            self._uncollected = False
            self.finished.clear()
            self._watcher = threading.Thread(target=self._watch, args=(recorder,), name="recording-watch",
                                             daemon=True)
            self._watcher.start()
            log.info("recording to %s", path)
            return path

    def _start_markers(self, recorder: Recorder) -> MarkerServer | None:
        if not self.marker_endpoint:
            return None
        sink = self.marker_sink(recorder) if self.marker_sink is not None else recorder
        return MarkerServer(sink, self.marker_endpoint, allow_network=self.allow_network,
                            **self.marker_options).start()

    def _watch(self, recorder: Recorder) -> None:
        """A disk fault stops the recording at once, so the operator hears of it and the file is finished."""
        while self.recorder is recorder:
            if recorder.writer.failed.wait(WATCH_INTERVAL):
                log.error("recording stopped: %s", recorder.writer.fault)
                self._finish(recorder, by_fault=True)
                return

    # -- status ------------------------------------------------------------
    def status(self) -> ServiceStatus:
        with self._lock:
            recorder, server, result = self.recorder, self.server, self.result
        if recorder is None:
            if result is None:
                return ServiceStatus()
            return ServiceStatus(FAILED if result.error else STOPPED, result.path, None, result.seconds,
                                 result.size, tuple(result.rows), error=result.error)
        writer = recorder.writer
        warning = ""
        if writer.orphaned:
            warning = (f"{recorder.path} was deleted while recording; the recording goes on and is saved "
                       "to a recovery file when it stops")
        return ServiceStatus(RECORDING, recorder.path, recorder.started_at, recorder.elapsed, writer.size,
                             tuple(recorder.status()), server.endpoint if server is not None else "",
                             writer.fault or "", warning)

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    @property
    def uncollected(self) -> bool:
        """The last recording stopped on a fault and no ``stop()`` has reported it yet."""
        return self._uncollected

    # -- stop --------------------------------------------------------------
    def stop(self) -> RecordingResult:
        """Finish the recording (markers first, then the file); raises RecordingError when idle."""
        with self._lock:
            recorder = self.recorder
            if recorder is None:
                if self._uncollected:  # it stopped on a fault: this stop gets its result (and error)
                    self._uncollected = False
                    assert self.result is not None
                    return self.result
                raise RecordingError("not recording")
            return self._finish(recorder)

    def _finish(self, recorder: Recorder, by_fault: bool = False) -> RecordingResult:
        with self._lock:
            if self.recorder is not recorder:  # already finished by another thread
                assert self.result is not None
                return self.result
            errors: list[str] = []
            server, self.server = self.server, None
            markers = None
            if server is not None:  # markers first: an ack means "in the file"
                try:
                    server.close()
                except Exception as exc:
                    log.exception("the marker server did not close cleanly")
                    errors.append(f"the marker server did not close cleanly: {exc}")
                    try:
                        server.close_relay()
                    except Exception:
                        log.exception("the marker relay did not close")
                markers = server.stats()  # the counts stay readable after a failed close
            try:
                rows = recorder.stop()  # always: the footers make the file whole
            except Exception as exc:
                log.exception("the recording did not stop cleanly")
                errors.append(f"the recording did not stop cleanly: {exc}")
                rows = []
            writer = recorder.writer
            path = recorder.path
            if writer.fault:
                errors.insert(0, f"recording stopped: {writer.fault}; the file holds everything up to then")
            if writer.recovered_to is not None:
                errors.append(f"the output file {path} was deleted during the recording; "
                              f"it was saved to {writer.recovered_to}")
                path = writer.recovered_to
            size = path.stat().st_size if path.exists() else writer.size
            self.result = RecordingResult(path, rows, recorder.elapsed, size, markers,
                                          never_recorded(recorder, self._required), "; ".join(errors))
            self._uncollected = by_fault
            self.recorder = None
            self.finished.set()
            log.info("saved %s", path)
            return self.result
