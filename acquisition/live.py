"""The live hub: finds streams and keeps their recent samples filled in the background.

The control panel must never wait on LSL, so everything that touches the
network happens here, in worker threads: a ContinuousResolver polled twice
a second keeps the list of streams, and one puller thread per stream keeps
its last minute of samples in a ring buffer. The panel only reads the
buffers (a copy under a short lock) on its own timer.

While a recording runs, the recorder's readers already hold one inlet per
stream; ``attach(recorder)`` makes them feed these buffers too (a
recorder listener), and the live puller of each recorded stream closes its
own inlet, so the lab network carries each stream to this computer once.
``detach()`` after the recording hands the streams back to live pullers.

The stores it fills are in acquisition/live_buffers.py, the health it
reports (status, table row, device check) in acquisition/live_status.py.
Nothing here imports Qt: the same hub can serve any front end or a test.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pylsl
from pylsl.util import TimeoutError as LSLTimeoutError

from acquisition.discovery import StreamKey, check_predicate, combine
from acquisition.live_buffers import LiveMarker, MarkerBuffer, RateMeter, RingBuffer, marker_details, parse_marker
from acquisition.live_status import (
    LOST,
    MISSING,
    RECEIVING,
    STALLED,
    WAITING,
    StreamRow,
    live_check,
    stream_status,
)
from acquisition.reader import FORMAT_NAMES
from sync.streams import CLOCK_TYPE

log = logging.getLogger(__name__)

MAX_WINDOW = 60.0  # seconds the panel can show
HISTORY = MAX_WINDOW + 15.0  # kept per stream: the window plus context for the tonic level
IRREGULAR_CAPACITY = 20_000
PULL_INTERVAL = 1 / 50  # a live puller wakes 50 times a second
OFFSET_INTERVAL = 5.0
RETRY_AFTER = 2.0
FORGET_LOST = 120.0  # a lost stream stays listed (red) this long
HANDOVER_DEDUP = 10.0  # seconds after a feed change during which older stamps are dropped


class LiveStream:
    """One stream's identity, recent data and health, as the panel needs them."""

    def __init__(self, info: pylsl.StreamInfo) -> None:
        self.info = info
        self.key = StreamKey.of(info)
        self.name = info.name()
        self.type = info.type()
        self.hostname = info.hostname()
        self.source_id = info.source_id()
        self.channel_count = info.channel_count()
        self.nominal_srate = info.nominal_srate()
        self.fmt = FORMAT_NAMES.get(info.channel_format(), "?")
        self.xml = info.as_xml()
        self.labels: list[str] = [f"ch{i + 1}" for i in range(self.channel_count)]
        self.is_string = self.fmt == "string"
        capacity = int(self.nominal_srate * HISTORY) if self.nominal_srate > 0 else IRREGULAR_CAPACITY
        self.buffer = None if self.is_string else RingBuffer(self.channel_count, capacity)
        self.offset = 0.0  # add to the sender's stamps for the local clock
        self.samples = 0
        self.first_seen = pylsl.local_clock()
        self.last_receive: float | None = None
        self.last_visible = self.first_seen
        self.visible = True
        self.feed = "inlet"  # or "recorder" while a recording reads this stream
        self.fed_since = self.first_seen
        self.error: str | None = None
        self.retry_at = 0.0  # after a failed live inlet, when to try again
        self.direct = False  # markers that the hub receives directly (not via this inlet)
        self.meter = RateMeter(2.0 if self.nominal_srate > 0 else 20.0)
        self._last_string_stamp: float | None = None
        self._ingest_lock = threading.Lock()

    def ingest(self, stamps: np.ndarray, values: Any, now: float, markers: MarkerBuffer, feed: str) -> None:
        """Take one pulled chunk; while a feed changes hands, drop what the other feed delivered."""
        with self._ingest_lock:
            if feed != self.feed:
                return  # the other feed owns the stream now
            stamps = np.asarray(stamps, dtype=np.float64)
            if now - self.fed_since < HANDOVER_DEDUP:
                last = self.buffer.last_stamp if self.buffer is not None else self._last_string_stamp
                if last is not None:
                    keep = stamps > last
                    if not keep.all():
                        stamps = stamps[keep]
                        values = [v for v, k in zip(values, keep) if k] if self.is_string else values[keep]
            n = len(stamps)
            if n == 0:
                return
            if self.buffer is not None:
                self.buffer.append(stamps, values)
            elif self.direct or self.type == CLOCK_TYPE:
                # direct: its markers reach the log another way; clock estimates are no events
                self._last_string_stamp = float(stamps[-1])
            else:
                self._last_string_stamp = float(stamps[-1])
                found = []
                for stamp, sample in zip(stamps, values):
                    text = sample[0] if isinstance(sample, (list, tuple, np.ndarray)) else sample
                    if isinstance(text, (bytes, bytearray)):
                        text = text.decode("utf-8", errors="replace")
                    label, fields = parse_marker(text)
                    found.append(LiveMarker(float(stamp) + self.offset, label, marker_details(fields),
                                        self.name, fields))
                markers.add(found)
            self.samples += n
            self.last_receive = now
            self.meter.add(now, n)

    def read_labels(self, full: pylsl.StreamInfo) -> None:
        """Channel labels from the stream's desc (falls back to ch1..chN)."""
        channels = full.desc().child("channels").child("channel")
        labels = []
        while not channels.empty() and len(labels) < self.channel_count:
            labels.append(channels.child_value("label") or f"ch{len(labels) + 1}")
            channels = channels.next_sibling("channel")
        if len(labels) == self.channel_count:
            self.labels = labels

    def window(self, seconds: float, now: float) -> tuple[np.ndarray, np.ndarray]:
        """Samples of the last ``seconds``, stamps mapped to the local clock."""
        if self.buffer is None:
            return np.zeros(0), np.zeros((0, self.channel_count))
        stamps, values = self.buffer.since(now - seconds - self.offset)
        return stamps + self.offset, values


class _Puller(threading.Thread):
    """Keeps one stream's buffer filled from its own inlet while nothing else feeds it."""

    def __init__(self, hub: LiveHub, stream: LiveStream) -> None:
        super().__init__(name=f"live-{stream.name}", daemon=True)
        self.hub = hub
        self.stream = stream
        self.stop_event = threading.Event()

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # a broken stream must not take the panel down
            self.stream.error = f"live view: {exc}"
            self.stream.retry_at = pylsl.local_clock() + RETRY_AFTER
            log.warning("live view of %s failed: %s", self.stream.name, exc)

    def _run(self) -> None:
        stream = self.stream
        rate = stream.nominal_srate
        inlet = pylsl.StreamInlet(stream.info, max_buflen=30, recover=True)
        try:
            inlet.open_stream(timeout=5.0)
            stream.error = None
            if self.stop_event.is_set():
                return
            try:
                stream.read_labels(inlet.info(timeout=2.0))
            except LSLTimeoutError:
                pass
            max_samples = max(64, int(rate * 2) if rate > 0 else 1024)
            next_offset = 0.0
            while not self.stop_event.wait(PULL_INTERVAL):
                now = pylsl.local_clock()
                if now >= next_offset:
                    next_offset = now + OFFSET_INTERVAL
                    try:
                        stream.offset = inlet.time_correction(timeout=0.2)
                    except LSLTimeoutError:
                        pass
                while not self.stop_event.is_set():
                    values, stamps = inlet.pull_chunk(timeout=0.0, max_samples=max_samples,
                                                      as_numpy=not stream.is_string)
                    if len(stamps) == 0:
                        break
                    stream.ingest(stamps, values, pylsl.local_clock(), self.hub.markers, "inlet")
                    if len(stamps) < max_samples:
                        break
        finally:
            inlet.close_stream()


class LiveHub:
    """Every visible stream (matching ``queries``) with its live buffer and status.

    ``required`` are LSL predicates (``type='GSR'``); a predicate that no
    visible stream satisfies is reported as a missing row.
    """

    def __init__(self, queries: list[str] | None = None, required: list[str] | None = None, *,
                 resolve_interval: float = 0.5, forget_after: float = 3.0) -> None:
        self.queries = list(queries or [])
        self.predicate = combine(self.queries)
        self.resolve_interval = resolve_interval
        self.forget_after = forget_after
        self.markers = MarkerBuffer()
        self.streams: dict[StreamKey, LiveStream] = {}
        self.missing: list[str] = []
        self._matches: dict[tuple[StreamKey, str], bool] = {}
        self._pullers: dict[StreamKey, _Puller] = {}
        self._recorder: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.direct_markers: set[str] = set()  # source_ids whose markers come through add_markers
        self.updated = threading.Event()  # set after each discovery pass (tests wait on it)
        self.required: list[str] = []
        self.set_required(required or [])

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._discover, name="live-discovery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.detach()
        with self._lock:
            pullers = list(self._pullers.values())
            self._pullers.clear()
        for p in pullers:
            p.stop_event.set()
        for p in pullers:
            p.join(timeout=1.0)
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def set_required(self, required: list[str]) -> None:
        for predicate in required:
            check_predicate(predicate)
        self.required = list(required)
        self._refresh_missing()

    # -- discovery -------------------------------------------------------
    def _discover(self) -> None:
        if self.predicate is None:
            resolver = pylsl.ContinuousResolver(forget_after=self.forget_after)
        else:
            resolver = pylsl.ContinuousResolver(pred=self.predicate, forget_after=self.forget_after)
        while not self._stop.is_set():
            try:
                self._update(resolver.results())
            except Exception:
                log.exception("stream discovery failed")
            self.updated.set()
            self._stop.wait(self.resolve_interval)

    def _update(self, infos: list[pylsl.StreamInfo]) -> None:
        now = pylsl.local_clock()
        seen: set[StreamKey] = set()
        for info in infos:
            key = StreamKey.of(info)
            seen.add(key)
            with self._lock:
                stream = self.streams.get(key)
                if stream is None:
                    stream = self.streams[key] = LiveStream(info)
            stream.visible = True
            stream.last_visible = now
            stream.direct = stream.source_id in self.direct_markers
            if stream.feed == "inlet":
                self._ensure_puller(stream)
        with self._lock:
            for key, stream in list(self.streams.items()):
                if key not in seen:
                    stream.visible = False
                    if now - stream.last_visible > FORGET_LOST and stream.feed == "inlet":
                        del self.streams[key]  # long gone: keep the table to what matters now
        self._refresh_missing()

    def _ensure_puller(self, stream: LiveStream) -> None:
        with self._lock:
            # a direct stream is our own marker server's LSL echo: its markers come to us first-hand,
            # and an inlet on it would only see its outlet close (an liblsl error) at every stop
            if stream.feed != "inlet" or stream.direct:
                return
            puller = self._pullers.get(stream.key)
            if puller is not None and puller.is_alive():
                return
            if self._stop.is_set() or pylsl.local_clock() < stream.retry_at:
                return
            puller = self._pullers[stream.key] = _Puller(self, stream)
        puller.start()

    def _refresh_missing(self) -> None:
        with self._lock:
            visible = [s for s in self.streams.values() if s.visible]
        missing = []
        for predicate in self.required:
            if not any(self._satisfies(s, predicate) for s in visible):
                missing.append(predicate)
        self.missing = missing

    def _satisfies(self, stream: LiveStream, predicate: str) -> bool:
        cache_key = (stream.key, predicate)
        hit = self._matches.get(cache_key)
        if hit is None:
            from lxml import etree

            root = etree.fromstring(stream.xml.encode("utf-8"))
            hit = self._matches[cache_key] = bool(check_predicate(predicate)(root))
        return hit

    # -- recording -------------------------------------------------------
    def attach(self, recorder: Any) -> None:
        """Feed the buffers from a recorder's readers (call before ``recorder.start``)."""
        self._recorder = recorder
        recorder.listeners.append(self._on_recorded)

    def detach(self) -> None:
        """Give the streams back to live pullers after a recording."""
        recorder, self._recorder = self._recorder, None
        if recorder is not None and self._on_recorded in recorder.listeners:
            recorder.listeners.remove(self._on_recorded)
        now = pylsl.local_clock()
        with self._lock:
            streams = [s for s in self.streams.values() if s.feed == "recorder"]
            for stream in streams:
                stream.fed_since, stream.feed = now, "inlet"
        for stream in streams:
            if stream.visible:
                self._ensure_puller(stream)

    def _on_recorded(self, reader: Any, stamps: np.ndarray, values: Any) -> None:
        """Recorder listener: runs in the reader's thread, so it only copies and returns."""
        now = pylsl.local_clock()
        with self._lock:
            stream = self.streams.get(reader.key)
            if stream is None:
                stream = self.streams[reader.key] = LiveStream(reader.info)
        if stream.feed != "recorder":
            with self._lock:
                stream.fed_since, stream.feed = now, "recorder"
                puller = self._pullers.pop(stream.key, None)
            if puller is not None:
                puller.stop_event.set()  # closes the live inlet: one inlet per stream while recording
        stream.offset = reader.offset
        stream.ingest(stamps, values, now, self.markers, "recorder")

    def add_markers(self, stream: str, stamps: list[float], texts: list[str]) -> None:
        """Markers handed over directly (e.g. by a marker server), stamped on the local clock."""
        found = []
        for stamp, text in zip(stamps, texts):
            label, fields = parse_marker(text)
            found.append(LiveMarker(float(stamp), label, marker_details(fields), stream, fields))
        self.markers.add(found)

    # -- reading (any thread; no LSL calls beyond the clock) -------------
    def rows(self, now: float | None = None) -> list[StreamRow]:
        """The streams table: one row per stream, then one per missing required stream."""
        now = pylsl.local_clock() if now is None else now
        with self._lock:
            streams = list(self.streams.values())
        rows = []
        for s in sorted(streams, key=lambda s: (s.type.lower(), s.name.lower(), s.hostname)):
            if s.direct:
                continue  # our own marker echo, not a source (its markers are in the marker log)
            since = None if s.last_receive is None else now - s.last_receive
            required = any(self._satisfies(s, p) for p in self.required)
            rows.append(StreamRow(s.key, s.name, s.type, s.hostname, s.channel_count, s.nominal_srate,
                                  s.meter.rate(now), s.samples, stream_status(s, now), since, required,
                                  s.error or "", live_check(s, now)))
        for predicate in self.missing:
            rows.append(StreamRow(None, predicate, "", "", 0, 0.0, 0.0, 0, MISSING, None, True,
                                  "required; no stream on the network matches"))
        return rows

    def first_of_type(self, type_: str) -> LiveStream | None:
        """The stream the plots show for a type: a receiving one first, then by name."""
        return self.first_where(lambda s: s.type.lower() == type_.lower())

    def first_where(self, accept: Callable[[LiveStream], bool]) -> LiveStream | None:
        """The accepted stream the plots show: a receiving one first, then by name."""
        now = pylsl.local_clock()
        with self._lock:
            candidates = [s for s in self.streams.values() if accept(s)]
        if not candidates:
            return None
        order = {RECEIVING: 0, WAITING: 1, STALLED: 2, LOST: 3}
        return min(candidates, key=lambda s: (order.get(stream_status(s, now), 4), s.name))

    def visible_infos(self) -> list[pylsl.StreamInfo]:
        with self._lock:
            return [s.info for s in self.streams.values() if s.visible]

    def wait_for(self, condition: Callable[[LiveHub], bool], timeout: float) -> bool:
        """Block (a worker or a test, never the GUI) until ``condition(hub)`` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self):
                return True
            time.sleep(0.05)
        return condition(self)
