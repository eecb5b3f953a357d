"""Live view data: ring buffers of recent samples, filled in the background.

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

Nothing here imports Qt: the same hub can serve any front end or a test.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pylsl
from pylsl.util import TimeoutError as LSLTimeoutError

from acquisition.discovery import StreamKey, check_predicate, combine
from acquisition.reader import FORMAT_NAMES
from devices.check import check_window, failures
from devices.gaze_layouts import recognise_header
from sync.protocol import parse_sample
from sync.streams import CLOCK_TYPE

log = logging.getLogger(__name__)

MAX_WINDOW = 60.0  # seconds the panel can show
HISTORY = MAX_WINDOW + 15.0  # kept per stream: the window plus context for the tonic level
IRREGULAR_CAPACITY = 20_000
PULL_INTERVAL = 1 / 50  # a live puller wakes 50 times a second
OFFSET_INTERVAL = 5.0
RETRY_AFTER = 2.0
FORGET_LOST = 120.0  # a lost stream stays listed (red) this long
CHECK_WINDOW = 10.0  # seconds of each stream the panel's device check looks at
CHECK_MIN = 3.0  # seconds of data before a stream is judged
HANDOVER_DEDUP = 10.0  # seconds after a feed change during which older stamps are dropped

# Status of a stream, as the streams table shows it.
RECEIVING = "receiving"
WAITING = "waiting"  # visible, no data yet (or an irregular stream with nothing sent recently)
STALLED = "stalled"  # visible on the network but no data
LOST = "lost"  # gone from the network
MISSING = "missing"  # required, and no stream on the network matches


class RingBuffer:
    """The last ``capacity`` samples of a numeric stream, with their timestamps.

    Every sample is written twice (at ``i`` and ``i + capacity``) so the
    newest ``k`` samples are always one contiguous slice: reads are a single
    copy, whatever the write position.
    """

    def __init__(self, channels: int, capacity: int) -> None:
        self.channels = channels
        self.capacity = max(int(capacity), 2)
        self._stamps = np.zeros(2 * self.capacity)
        self._values = np.full((2 * self.capacity, channels), np.nan)
        self._pos = 0  # next write index in [0, capacity)
        self._count = 0  # valid samples (<= capacity)
        self.total = 0  # samples ever appended
        self._lock = threading.Lock()

    def append(self, stamps: np.ndarray, values: np.ndarray) -> None:
        stamps = np.asarray(stamps, dtype=np.float64)
        n = len(stamps)
        if n == 0:
            return
        values = np.asarray(values, dtype=np.float64).reshape(n, self.channels)
        if n > self.capacity:
            stamps, values = stamps[-self.capacity:], values[-self.capacity:]
        k = len(stamps)
        with self._lock:
            cap = self.capacity
            end = self._pos + k
            if end <= cap:
                spans = [(self._pos, 0, k)]
            else:
                first = cap - self._pos
                spans = [(self._pos, 0, first), (0, first, k)]
            for dst, a, b in spans:
                m = b - a
                self._stamps[dst:dst + m] = stamps[a:b]
                self._stamps[dst + cap:dst + cap + m] = stamps[a:b]
                self._values[dst:dst + m] = values[a:b]
                self._values[dst + cap:dst + cap + m] = values[a:b]
            self._pos = end % cap
            self._count = min(cap, self._count + k)
            self.total += n

    @property
    def last_stamp(self) -> float | None:
        with self._lock:
            if self._count == 0:
                return None
            return float(self._stamps[self._pos + self.capacity - 1])

    def latest(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the newest ``n`` samples (all kept samples when None), oldest first."""
        with self._lock:
            k = self._count if n is None else min(n, self._count)
            end = self._pos + self.capacity
            return self._stamps[end - k:end].copy(), self._values[end - k:end].copy()

    def since(self, stamp: float) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the samples stamped at or after ``stamp`` (sender clock)."""
        with self._lock:
            end = self._pos + self.capacity
            start = end - self._count
            i = start + int(np.searchsorted(self._stamps[start:end], stamp))
            return self._stamps[i:end].copy(), self._values[i:end].copy()


@dataclass(frozen=True)
class LiveMarker:
    """One marker for display: label on the plots, the rest in the log."""

    stamp: float  # local LSL clock
    label: str
    details: str
    stream: str
    fields: dict[str, Any] = field(default_factory=dict, compare=False)


def parse_marker(text: str) -> tuple[str, dict[str, Any]]:
    """Attune's markers (sync.protocol.parse_sample) show their event; anything else is a plain label."""
    recorded = parse_sample(text)
    if recorded is None:
        return text.strip(), {}
    fields = recorded.as_dict()
    del fields["event"]
    return recorded.event, fields


def marker_details(fields: dict[str, Any]) -> str:
    """The fields worth reading in a log (the bus's sequence number is not)."""
    return ", ".join(f"{k}={v}" for k, v in fields.items() if k != "seq")


class MarkerBuffer:
    """All markers seen, in arrival order, numbered so readers can ask for "what is new"."""

    def __init__(self, keep: int = 50_000) -> None:
        self._items: deque[LiveMarker] = deque(maxlen=keep)
        self._first = 0  # number of the oldest kept marker
        self._lock = threading.Lock()

    def add(self, markers: list[LiveMarker]) -> None:
        with self._lock:
            for m in markers:
                if len(self._items) == self._items.maxlen:
                    self._first += 1
                self._items.append(m)

    @property
    def count(self) -> int:
        with self._lock:
            return self._first + len(self._items)

    def after(self, number: int) -> list[LiveMarker]:
        """Markers numbered ``number`` and later (0-based arrival order)."""
        with self._lock:
            skip = max(0, number - self._first)
            return list(self._items)[skip:]

    def between(self, start: float, end: float, slack: float = 30.0) -> list[LiveMarker]:
        """Markers stamped in [start, end], in stamp order.

        Scans back from the newest and stops ``slack`` seconds before
        ``start`` (streams interleave, so arrival order is only nearly
        stamp order): a redraw costs the markers in view, not the session.
        """
        found = []
        with self._lock:
            for m in reversed(self._items):
                if m.stamp < start - slack:
                    break
                if start <= m.stamp <= end:
                    found.append(m)
        found.sort(key=lambda m: m.stamp)
        return found


class RateMeter:
    """Samples per second over the last few seconds of arrivals (local clock)."""

    def __init__(self, span: float = 2.0) -> None:
        self.span = span
        self._arrivals: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def add(self, now: float, n: int) -> None:
        with self._lock:
            self._arrivals.append((now, n))
            while self._arrivals and self._arrivals[0][0] < now - self.span:
                self._arrivals.popleft()

    def rate(self, now: float) -> float:
        """Samples per second between the first and last arrival in the span; 0 when silent."""
        with self._lock:
            while self._arrivals and self._arrivals[0][0] < now - self.span:
                self._arrivals.popleft()
            if len(self._arrivals) < 2:
                return 0.0
            first_t, first_n = self._arrivals[0]
            last_t = self._arrivals[-1][0]
            total = sum(n for _, n in self._arrivals) - first_n
        return total / max(last_t - first_t, 1e-3)


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


@dataclass(frozen=True)
class StreamRow:
    """One line of the streams table (a snapshot; no LSL calls needed to show it)."""

    key: StreamKey | None
    name: str
    type: str
    hostname: str
    channel_count: int
    nominal_srate: float
    measured_srate: float
    samples: int
    status: str
    seconds_since_data: float | None
    required: bool
    detail: str = ""
    check: str = ""  # the device check on the recent buffer: "" (not judged yet), "ok" or "FAIL: ..."


def live_check(stream: LiveStream, now: float) -> str:
    """The device check (devices.check) on the last CHECK_WINDOW seconds this stream delivered.

    "" until there are CHECK_MIN seconds of data (or for irregular and string
    streams), "ok" when every row passes, "FAIL: <failed rows>" otherwise.
    """
    if stream.buffer is None or stream.nominal_srate <= 0 or stream.last_receive is None:
        return ""
    stamps, values = stream.window(CHECK_WINDOW, now)
    if len(stamps) < 2 or stamps[-1] - stamps[0] < CHECK_MIN:
        return ""
    layout = recognise_header(stream.name, stream.type, stream.channel_count, stream.labels)
    rows = check_window(stamps, values if layout is not None else None, stream.nominal_srate, layout)
    failed = failures(rows)
    return f"FAIL: {failed}" if failed else "ok"


def stall_threshold(nominal_srate: float) -> float:
    """How long a regular stream may be silent before it counts as stalled."""
    return max(1.5, 5.0 / nominal_srate) if nominal_srate > 0 else float("inf")


def stream_status(stream: LiveStream, now: float) -> str:
    if not stream.visible:
        return LOST
    silent = now - (stream.last_receive if stream.last_receive is not None else stream.first_seen)
    if stream.nominal_srate <= 0:
        return RECEIVING if stream.last_receive is not None and silent < 10.0 else WAITING
    if silent >= stall_threshold(stream.nominal_srate):
        return STALLED
    return RECEIVING if stream.last_receive is not None else WAITING


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


TONIC_WINDOW = 8.0  # seconds: longer than a skin conductance response (1-5 s), shorter than the drift


def tonic_level(stamps: np.ndarray, values: np.ndarray, window: float = TONIC_WINDOW, step: float = 0.25
                ) -> tuple[np.ndarray, np.ndarray]:
    """Centred moving median of a skin-conductance trace: the tonic level under the SCRs.

    Medians over ``step`` bins, then a median over ``window`` seconds of bins
    centred on each bin: responses (1-5 s) barely move it, the drift does,
    and it does not lag. The price is stated instead: it ends ``window / 2``
    seconds before the last sample, because that is when it is known.
    """
    ok = np.isfinite(values)
    stamps, values = stamps[ok], values[ok]
    if len(stamps) < 2:
        return np.zeros(0), np.zeros(0)
    bins = np.floor((stamps - stamps[0]) / step).astype(np.int64)
    edges = np.flatnonzero(np.diff(bins)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(stamps)]))
    centres = np.array([stamps[a:b].mean() for a, b in zip(starts, ends)])
    medians = np.array([np.median(values[a:b]) for a, b in zip(starts, ends)])
    k = max(1, int(round(window / step)))
    if len(medians) < k:
        return np.zeros(0), np.zeros(0)
    level = np.median(np.lib.stride_tricks.sliding_window_view(medians, k), axis=1)
    return centres[k // 2:k // 2 + len(level)], level


def frame_rate(stamps: np.ndarray, bin_seconds: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Frames per second in consecutive bins (a dropping webcam shows as a dip)."""
    if len(stamps) < 2:
        return np.zeros(0), np.zeros(0)
    end = stamps[-1]
    edges = np.arange(end, stamps[0] - 1e-9, -bin_seconds)[::-1]
    if len(edges) < 2:
        return np.zeros(0), np.zeros(0)
    counts, _ = np.histogram(stamps, bins=edges)
    return edges[1:], counts / bin_seconds
