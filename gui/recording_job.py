"""One recording run by the panel, in a worker thread: start, watch, stop.

Creating the file, starting the recorder, polling its status and the
stop drain (up to a second and more) all touch the disk or LSL, so none of
it may run on the GUI thread. The job publishes an immutable snapshot that
the panel reads on its timer; the panel only ever calls ``start``/``stop``,
which return at once. The recording itself is the headless
``acquisition.service.RecordingService``, the same one the CLI and
``serve`` use: a start it refuses (e.g. the marker port is busy) is a
failed start shown in the banner, and a fault while recording (disk full)
ends the recording and is shown the same way.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pylsl

from acquisition.live import LiveHub
from acquisition.recorder import Recorder, StreamStatus
from acquisition.service import RecordingError, RecordingService

log = logging.getLogger(__name__)

IDLE, STARTING, RECORDING, STOPPING, STOPPED, FAILED = (
    "idle", "starting", "recording", "stopping", "stopped", "failed")
STATUS_INTERVAL = 0.25


@dataclass(frozen=True)
class Snapshot:
    state: str = IDLE
    path: Path | None = None
    started_at: float | None = None  # local LSL clock
    stopped_at: float | None = None
    size: int = 0
    rows: tuple[StreamStatus, ...] = ()
    error: str = ""
    markers: str = ""  # the ZeroMQ endpoint markers are received on ("" when off)
    warning: str = ""  # something wrong that does not stop the recording (its file was deleted)

    def elapsed(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        return (self.stopped_at if self.stopped_at is not None else now) - self.started_at

    @property
    def active(self) -> bool:
        """Starting, recording or stopping: the window must not simply close."""
        return self.state in (STARTING, RECORDING, STOPPING)


# Readers pull this often while the panel shows the recorded streams live (the CLI's 0.5 s
# would make the plots jump in half-second steps).
LIVE_POLL_INTERVAL = 0.05


class LiveMarkers:
    """A marker stream handle that records and also shows each marker in the panel at once.

    The server's LSL relay outlet appears on the network only with its first
    marker, too late for a live inlet to see that marker; so the panel takes
    its own server's markers here and ignores that relay's copies.
    """

    def __init__(self, stream: Any, hub: LiveHub, name: str) -> None:
        self.stream = stream
        self.hub = hub
        self.name = name
        self.offset = 0.0  # sender clock to this computer's clock

    def push(self, stamps, values) -> None:
        self.stream.push(stamps, values)
        self.hub.add_markers(self.name, [s + self.offset for s in stamps], [v[0] for v in values])

    def clock_offset(self, collection_time: float, offset: float) -> None:
        self.stream.clock_offset(collection_time, offset)
        self.offset = offset


class MarkerSink:
    """The marker server's sink: the recorder, with marker streams mirrored to the live view."""

    def __init__(self, recorder: Recorder, hub: LiveHub | None) -> None:
        self.recorder = recorder
        self.hub = hub

    def add_stream(self, info_xml: str, fmt: str, nominal_srate: float) -> Any:
        stream = self.recorder.add_stream(info_xml, fmt, nominal_srate)
        header = ElementTree.fromstring(info_xml)
        if self.hub is None or header.findtext("type") != "Markers":
            return stream
        from sync.streams import relay_source_id

        sender = header.findtext("desc/attune/sender") or ""
        self.hub.direct_markers.add(relay_source_id(sender))
        return LiveMarkers(stream, self.hub, header.findtext("name") or "markers")


class RecordingJob:
    """Runs one Recorder in the background; ``snapshot`` tells the panel how it goes."""

    def __init__(self, hub: LiveHub | None = None) -> None:
        self.hub = hub
        self.snapshot = Snapshot()
        self.recorder: Recorder | None = None
        self.service: RecordingService | None = None
        self.summary: list[StreamStatus] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, path: Path, queries: list[str], initial: list[pylsl.StreamInfo] | None = None,
              marker_endpoint: str | None = None, on_exists: str = "refuse") -> None:
        """Begin recording to ``path`` in the background (returns at once)."""
        if self.snapshot.active:
            raise RuntimeError("a recording is already running")
        self._stop.clear()
        self.snapshot = Snapshot(STARTING, Path(path))
        self._thread = threading.Thread(
            target=self._run, args=(Path(path), list(queries), list(initial or []), marker_endpoint, on_exists),
            name="recording-job", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the recording to finish (drain, footers, close); returns at once."""
        if self.snapshot.state in (STARTING, RECORDING):
            self._publish(state=STOPPING)
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _publish(self, **changes: Any) -> None:
        self.snapshot = Snapshot(**{**self.snapshot.__dict__, **changes})

    def _run(self, path: Path, queries: list[str], initial: list[pylsl.StreamInfo],
             marker_endpoint: str | None, on_exists: str) -> None:
        hub = self.hub
        service = RecordingService(marker_endpoint, poll_interval=LIVE_POLL_INTERVAL,
                                   prepare=hub.attach if hub is not None else None,
                                   marker_sink=lambda recorder: MarkerSink(recorder, hub))
        self.service = service
        try:
            try:
                path = service.start(path, queries, initial, on_exists=on_exists)
            except RecordingError as exc:
                self._publish(state=FAILED, error=f"the recording did not start: {exc}")
                return
            self.recorder = service.recorder
            status = service.status()
            started_at = service.recorder.started_at if service.recorder is not None else pylsl.local_clock()
            self._publish(state=RECORDING if not self._stop.is_set() else STOPPING, path=path,
                          started_at=started_at, markers=status.markers)
            while not self._stop.wait(STATUS_INTERVAL) and not service.finished.is_set():
                status = service.status()
                self._publish(size=status.size, rows=status.rows, warning=status.warning)
            result = service.stop()
            self.summary = result.rows
            self._publish(state=FAILED if result.error else STOPPED, error=result.error, path=result.path,
                          stopped_at=started_at + result.seconds, size=result.size, rows=tuple(result.rows))
        except Exception as exc:
            log.exception("recording failed")
            if service.recording:
                service.stop()
            self._publish(state=FAILED, error=str(exc))
        finally:
            if hub is not None:
                hub.detach()
