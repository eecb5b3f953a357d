"""The recording engine: discover streams, run one reader each, keep the file safe.

Readers pull every half second, as LabRecorder does (CPU grows with every
wake-up); a housekeeping thread writes whole chunks to disk four times a
second and fsyncs once a second, so nothing waits more than a second to
reach the disk, and looks for new streams matching the queries so a
device switched on late joins the running recording. ``stop()`` records
everything stamped before the stop request, then writes the footers.

The engine is headless; the CLI and the control panel are its clients.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pylsl

from acquisition.discovery import StreamKey, describe, matches, selection, shared_source_ids, shared_warning
from acquisition.reader import Listener, StreamReader
from acquisition.xdf_writer import XDFWriter

log = logging.getLogger(__name__)

SYNC_INTERVAL = 1.0  # seconds between fsyncs: what a power cut can cost at most
SHARED_PATIENCE = 6.0  # seconds two outlets must share a source_id before it is reported (resolver forgets after 5)


@dataclass
class StreamStatus:
    """One line of the progress display and of the final summary."""

    stream_id: int
    name: str
    type: str
    hostname: str
    source_id: str
    channel_count: int
    nominal_srate: float
    samples: int
    measured_srate: float
    gaps: int
    gap_seconds: float
    seconds_since_data: float
    error: str | None = None


class ExternalStream:
    """A stream that does not come from an LSL inlet (e.g. ZeroMQ markers).

    Its producer pushes samples and clock offsets; they are written like any
    other stream. This is the sink interface the marker server writes into.
    """

    def __init__(self, writer: XDFWriter, stream_id: int, name: str, type_: str) -> None:
        self.writer = writer
        self.stream_id = stream_id
        self.name = name
        self.type = type_
        self.last_push = pylsl.local_clock()

    def push(self, stamps, values) -> None:
        self.writer.write_samples(self.stream_id, stamps, values)
        self.last_push = pylsl.local_clock()

    def clock_offset(self, collection_time: float, offset: float) -> None:
        self.writer.write_clock_offset(self.stream_id, collection_time, offset)


class Recorder:
    """Owns one XDF file, its writer, one StreamReader per matching stream and the housekeeping thread.

    Called by the recording's clients (``record``, ``serve``, the panel's RecordingJob); the marker
    server records into it through ``add_stream``."""

    def __init__(self, path: str | Path, queries: list[str] | None = None, *,
                 exclude: list[str] | None = None, resolve_interval: float = 1.0, flush_interval: float = 0.25,
                 poll_interval: float = 0.5) -> None:
        self.queries = list(queries or [])
        # validated before any file exists; ``exclude`` keeps out e.g. this server's own marker relay
        self.predicate = selection(self.queries, exclude)
        self.path = Path(path)
        self.resolve_interval = resolve_interval
        self.flush_interval = flush_interval
        self.poll_interval = poll_interval
        self.listeners: list[Listener] = []
        self.readers: dict[StreamKey, StreamReader] = {}
        self._shared_since: dict[StreamKey, float] = {}
        self._shared_told: set[StreamKey] = set()
        self.external: list[ExternalStream] = []
        self.writer: XDFWriter | None = None
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self._next_id = 1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._housekeeper: threading.Thread | None = None
        self._resolver: pylsl.ContinuousResolver | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self, initial: list[pylsl.StreamInfo] | None = None) -> None:
        """Create the file and begin recording ``initial`` plus every matching stream that appears."""
        self.writer = XDFWriter(self.path)
        self.started_at = pylsl.local_clock()
        if self.predicate is None:
            self._resolver = pylsl.ContinuousResolver(forget_after=5.0)
        else:
            self._resolver = pylsl.ContinuousResolver(pred=self.predicate, forget_after=5.0)
        for info in initial or []:
            if self.predicate is None or matches(info.as_xml(), self.predicate):
                self._add_reader(info)
        self._housekeeper = threading.Thread(target=self._housekeep, name="recorder-housekeeping", daemon=True)
        self._housekeeper.start()

    def stop(self) -> list[StreamStatus]:
        """Record everything stamped before now, write footers, close the file."""
        stop_time = pylsl.local_clock()
        self._stop.set()
        with self._lock:
            readers = list(self.readers.values())
        for reader in readers:
            reader.request_stop(stop_time)
        for reader in readers:
            reader.join(timeout=1.0)
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=1.0)
        self.stopped_at = pylsl.local_clock()
        summary = self.status()
        if self.writer is not None:
            self.writer.close()
        self._resolver = None
        return summary

    @property
    def recording(self) -> bool:
        return self.writer is not None and not self._stop.is_set()

    # -- streams ---------------------------------------------------------
    def add_stream(self, info_xml: str, fmt: str, nominal_srate: float) -> ExternalStream:
        """Open a stream fed from outside LSL (the marker server's sink interface)."""
        assert self.writer is not None, "start() the recorder first"
        header = ElementTree.fromstring(info_xml)
        with self._lock:
            stream_id = self._next_id
            self._next_id += 1
        self.writer.add_stream(stream_id, info_xml, fmt, nominal_srate)
        stream = ExternalStream(self.writer, stream_id, header.findtext("name") or f"stream {stream_id}",
                                header.findtext("type") or "")
        self.external.append(stream)
        return stream

    def _add_reader(self, info: pylsl.StreamInfo) -> None:
        key = StreamKey.of(info)
        with self._lock:
            if key in self.readers or self._stop.is_set():
                return
            reader = StreamReader(info, self._next_id, self.writer, self.poll_interval, self.listeners)
            self._next_id += 1
            self.readers[key] = reader
        log.info("recording %s", describe(info))
        reader.start()

    def _housekeep(self) -> None:
        next_resolve = next_sync = 0.0
        while not self._stop.wait(self.flush_interval):
            now = time.monotonic()
            self.writer.flush(sync=now >= next_sync)
            if now >= next_sync:
                next_sync = now + SYNC_INTERVAL
            if now >= next_resolve and self._resolver is not None:
                next_resolve = now + self.resolve_interval
                found = self._resolver.results()
                for info in found:
                    self._add_reader(info)
                self._warn_shared(found, now)

    def _warn_shared(self, found: list[pylsl.StreamInfo], now: float) -> None:
        """Say (once) when two live outlets share a source_id. A restarted device briefly looks like
        that too (its old outlet lingers in the resolver), so a pair must outlast the resolver's memory."""
        shared = shared_source_ids(found)
        for key in list(self._shared_since):
            if key not in shared:
                del self._shared_since[key]
        for key, infos in shared.items():
            since = self._shared_since.setdefault(key, now)
            if now - since > SHARED_PATIENCE and key not in self._shared_told:
                self._shared_told.add(key)
                log.warning(shared_warning(key, infos))

    # -- progress --------------------------------------------------------
    def status(self) -> list[StreamStatus]:
        now = pylsl.local_clock()
        rows = []
        with self._lock:
            readers = list(self.readers.values())
        for reader in readers:
            info = reader.info
            stats = self.writer.stats(reader.stream_id)
            rows.append(StreamStatus(
                reader.stream_id, info.name(), info.type(), info.hostname(), info.source_id(),
                info.channel_count(), info.nominal_srate(), reader.samples,
                stats.measured_srate if stats else 0.0, reader.gaps.count, reader.gaps.seconds,
                now - reader.last_receive, reader.error,
            ))
        for ext in self.external:
            stats = self.writer.stats(ext.stream_id)
            rows.append(StreamStatus(ext.stream_id, ext.name, ext.type, "", "", 1, 0.0, stats.sample_count,
                                     stats.measured_srate, 0, 0.0, now - ext.last_push))
        return sorted(rows, key=lambda r: r.stream_id)

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.stopped_at or pylsl.local_clock()) - self.started_at
