"""Replay an XDF recording as live LSL streams, with the original timing.

    player = Player("sub-01_task-rating.xdf", streams=["Gaze", "Markers"], speed=2.0)
    player.open()            # outlets appear on the network (viewers can connect)
    player.play()            # samples flow; play() again after pause() resumes
    player.seek(120.0)       # session seconds, also while playing
    player.position, player.duration, player.state
    player.close()

Public API (what a control panel needs): ``open``, ``play``, ``pause``,
``seek``, ``stop``/``close``, ``wait``, the ``speed`` and ``loop`` attributes,
and the read-only ``position``, ``duration``, ``state``, ``streams``.

Every stream is re-published with its stored header (name, type, channel
count and format, source_id, the whole ``desc``). Session time is the
recorder's clock (each stream's stamps plus its recorded clock offsets)
minus the first sample of the selected streams, so streams from several
hosts stay aligned. Each sample is pushed with the stamp
``anchor_clock + (session_time - anchor_position) / speed`` on this machine's
LSL clock, so a recording of the replay has the original content and
relative timing whatever the scheduling jitter of the push itself.

Samples are decoded one chunk at a time from an index of the file
(``acquisition.xdf_index``), a fraction of a second ahead of the play
position: memory stays flat and an hour-long file starts in about a second.
"""
from __future__ import annotations

import logging
import os
import threading
import xml.etree.ElementTree as ET
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pylsl

from acquisition.xdf_index import ChunkReader, StreamIndex, XDFError, build_index

log = logging.getLogger(__name__)

SPEED_RANGE = (0.1, 20.0)
STOPPED, PAUSED, PLAYING, FINISHED = "stopped", "paused", "playing", "finished"


REPLAY_SUFFIX = "@replay"  # a replayed stream's source_id is the original's plus this


def replay_source_id(original: str) -> str:
    """The source_id a replayed stream is published under: told apart from the live device it came from,
    on the network and in any file that records it (``desc/replay`` keeps the original)."""
    return original if is_replayed(original) else original + REPLAY_SUFFIX


def is_replayed(source_id: str) -> bool:
    return source_id.endswith(REPLAY_SUFFIX)


def stream_info_from_header(header_xml: str, speed: float = 1.0, replay_of: str | None = None) -> pylsl.StreamInfo:
    """An LSL StreamInfo with the stored header's identity fields and a copy of its ``desc``.

    The nominal rate is the stored one times ``speed``: a replay at x4 of a
    100 Hz stream delivers 400 samples per second of the replay clock, and a
    recorder of the replay (and pyxdf reading that recording) should see the
    rate it measures. Irregular streams (rate 0) stay irregular.

    With ``replay_of`` (the file's name) it is marked as a replay: its source_id
    gets REPLAY_SUFFIX and ``desc`` a ``replay`` element naming the file and the
    original source_id.
    """
    root = ET.fromstring(header_xml)

    def text(tag: str, default: str = "") -> str:
        node = root.find(tag)
        return (node.text or default).strip() if node is not None else default

    source_id = text("source_id")
    info = pylsl.StreamInfo(text("name"), text("type"), int(text("channel_count", "1")),
                            float(text("nominal_srate", "0")) * speed, text("channel_format", "float32"),
                            replay_source_id(source_id) if replay_of is not None and source_id else source_id)
    desc = root.find("desc")
    if desc is not None:
        _copy_children(desc, info.desc(), skip="replay" if replay_of is not None else None)
    if replay_of is not None:
        replay = info.desc().append_child("replay")
        replay.append_child_value("file", replay_of)
        replay.append_child_value("source_id", source_id)
    return info


def _copy_children(src: ET.Element, dst: pylsl.info.XMLElement, skip: str | None = None) -> None:
    for child in src:
        if child.tag == skip:
            continue
        if len(child) == 0:
            dst.append_child_value(child.tag, (child.text or "").strip())
        else:
            _copy_children(child, dst.append_child(child.tag))


class _Lane:
    """One stream being replayed: its outlet, chunk cursor and the decoded samples ahead."""

    def __init__(self, stream: StreamIndex, t0: float) -> None:
        self.stream = stream
        self.t0 = t0
        self.outlet: pylsl.StreamOutlet | None = None
        self.is_string = stream.channel_format == "string"
        # session time of each chunk's first sample (the index resolved implicit first stamps)
        self.chunk_starts = (stream.first_stamps_synced() - t0).tolist()
        self.cursor = 0
        self.pending: deque[tuple[np.ndarray, object]] = deque()  # (session times, values)
        self.decoded_until = -np.inf
        self.skip_before = -np.inf
        self.pushed = 0

    def seek(self, position: float) -> None:
        self.cursor = max(0, bisect_right(self.chunk_starts, position) - 1)
        self.pending.clear()
        self.decoded_until = -np.inf
        self.skip_before = position

    def fill(self, reader: ChunkReader, horizon: float) -> None:
        """Decode chunks until the samples ahead reach ``horizon`` (session seconds)."""
        s = self.stream
        while self.decoded_until < horizon and self.cursor < s.chunk_count:
            stamps, values = reader.decode(s, self.cursor)
            times = stamps + s.clock_offset(stamps, self.cursor) - self.t0
            self.cursor += 1
            if len(stamps) == 0:
                continue
            keep = times >= self.skip_before
            if not keep.all():
                idx = np.nonzero(keep)[0]
                times = times[idx]
                values = values[idx] if not self.is_string else [values[i] for i in idx]
            if len(times):
                self.pending.append((times, values))
                self.decoded_until = float(times[-1])

    @property
    def exhausted(self) -> bool:
        return not self.pending and self.cursor >= self.stream.chunk_count

    def next_time(self) -> float:
        return float(self.pending[0][0][0]) if self.pending else np.inf

    def push_due(self, position: float, to_clock) -> None:
        """Push every pending sample at or before ``position``, stamped on the replay clock."""
        while self.pending:
            times, values = self.pending[0]
            k = int(np.searchsorted(times, position, side="right"))
            if k == 0:
                return
            stamps = to_clock(times[:k])
            chunk = values[:k]
            if self.outlet is not None:
                self.outlet.push_chunk(chunk if not self.is_string else list(chunk), stamps.tolist())
            self.pushed += k
            if k == len(times):
                self.pending.popleft()
            else:
                self.pending[0] = (times[k:], values[k:])
                return


class Player:
    """Re-publishes an XDF file's streams on LSL in real time (scaled by ``speed``)."""

    def __init__(self, path: str | os.PathLike, streams: Sequence[str] | None = None, *,
                 speed: float = 1.0, start: float = 0.0, loop: bool = False,
                 lookahead: float = 0.2) -> None:
        """Index the file and choose streams by name or type; raises XDFError or ValueError.

        Nothing is published until ``open()`` (or ``play()``).
        """
        self.path = Path(path)
        self.index = build_index(self.path)
        chosen = [s for s in self.index.streams.values()
                  if not streams or any(s.matches(sel) for sel in streams)]
        if streams:
            unknown = [sel for sel in streams if not any(s.matches(sel) for s in self.index.streams.values())]
            if unknown:
                known = ", ".join(f"{s.name} ({s.type})" for s in self.index.streams.values())
                raise ValueError(f"{self.path}: no stream named or typed {', '.join(map(repr, unknown))}; "
                                 f"the file has: {known or 'no streams'}{self._problems()}")
        chosen = [s for s in chosen if s.chunk_count]
        if not chosen:
            raise XDFError(f"{self.path}: no samples to replay in the selected streams{self._problems()}")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._quit = threading.Event()
        self._finished = threading.Event()
        self._state = STOPPED
        self._reader = ChunkReader(self.path)
        t_first, t_last = [], []
        for s in chosen:
            first, last = s.first_stamps[0], s.last_stamp
            t_first.append(first + float(s.clock_offset(np.array([first]), 0)[0]))
            t_last.append(last + float(s.clock_offset(np.array([last]), s.chunk_count - 1)[0]))
        self.t0 = min(t_first)
        self._duration = max(t_last) - self.t0
        self._lanes = [_Lane(s, self.t0) for s in chosen]
        self.speed = speed
        self.loop = loop
        self.lookahead = lookahead
        self.start_position = self._clamp(start)
        self._position = self.start_position
        self._anchor_clock = 0.0
        self._anchor_position = self._position
        self._thread: threading.Thread | None = None
        self.laps = 0
        self.error: str | None = None

    # -- read-only state ---------------------------------------------------
    @property
    def streams(self) -> list[StreamIndex]:
        """The selected streams (name, type, header_xml, ...)."""
        return [lane.stream for lane in self._lanes]

    @property
    def duration(self) -> float:
        """Session seconds from the first to the last sample of the selected streams."""
        return self._duration

    @property
    def position(self) -> float:
        """Session seconds of the sample being played now."""
        with self._lock:
            if self._state == PLAYING:
                return self._clamp(self._anchor_position
                                   + (pylsl.local_clock() - self._anchor_clock) * self._speed)
            return self._position

    @property
    def state(self) -> str:
        """'stopped', 'paused', 'playing' or 'finished'."""
        return self._state

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        lo, hi = SPEED_RANGE
        if not lo <= value <= hi:
            raise ValueError(f"speed must be within {lo}..{hi}, got {value}")
        with self._lock:
            if self._state == PLAYING:  # keep the position continuous
                now = pylsl.local_clock()
                self._anchor_position += (now - self._anchor_clock) * self._speed
                self._anchor_clock = now
            self._speed = float(value)
        self._wake.set()

    def pushed(self) -> dict[str, int]:
        """Samples pushed so far per stream name (for progress displays and tests)."""
        return {lane.stream.name: lane.pushed for lane in self._lanes}

    # -- control -------------------------------------------------------------
    def open(self) -> None:
        """Create the outlets so consumers can connect before the first sample.

        They declare the nominal rate at the speed set now (see
        ``stream_info_from_header``); a later speed change does not re-declare it.
        """
        for lane in self._lanes:
            if lane.outlet is None:
                info = stream_info_from_header(lane.stream.header_xml, self._speed, replay_of=self.path.name)
                lane.outlet = pylsl.StreamOutlet(info, chunk_size=0, max_buffered=360)

    def play(self) -> None:
        """Start, or resume after pause(); a finished player starts again from the start position."""
        self.open()
        with self._lock:
            if self._state == PLAYING:
                return
            if self._state == FINISHED:
                self._position = self.start_position
                self._finished.clear()
            self._reposition(self._position)
            self._anchor_clock = pylsl.local_clock()
            self._state = PLAYING
        if self._thread is None or not self._thread.is_alive():
            self._quit.clear()
            self._thread = threading.Thread(target=self._run, name=f"player-{self.path.name}", daemon=True)
            self._thread.start()
        self._wake.set()

    def pause(self) -> None:
        with self._lock:
            if self._state == PLAYING:
                self._position = self._clamp(self._anchor_position
                                             + (pylsl.local_clock() - self._anchor_clock) * self._speed)
                self._state = PAUSED
        self._wake.set()

    def seek(self, seconds: float) -> None:
        """Jump to ``seconds`` of session time (clamped to 0..duration); keeps playing if playing."""
        with self._lock:
            self._position = self._clamp(seconds)
            if self._state == FINISHED:
                self._state = PAUSED
                self._finished.clear()
            self._reposition(self._position)
            self._anchor_clock = pylsl.local_clock()
        self._wake.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the end of the file (never with ``loop``); True if it was reached."""
        return self._finished.wait(timeout)

    def stop(self) -> None:
        """End playback and the thread; outlets stay until close()."""
        self._quit.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2.0)
        with self._lock:
            if self._state == PLAYING:
                self._position = self._clamp(self._anchor_position
                                             + (pylsl.local_clock() - self._anchor_clock) * self._speed)
            self._state = STOPPED

    def has_consumers(self) -> bool:
        """True while any outlet has a connected inlet (a viewer or recorder)."""
        return any(lane.outlet is not None and lane.outlet.have_consumers() for lane in self._lanes)

    def close(self) -> None:
        """Stop and withdraw the outlets from the network."""
        self.stop()
        for lane in self._lanes:
            lane.outlet = None
        self._reader.close()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------
    def _problems(self) -> str:
        """What the reader skipped, appended to an error (a stream may be missing because of it)."""
        return ("\n" + self.index.summary()) if self.index.problems else ""

    def _clamp(self, seconds: float) -> float:
        return min(max(0.0, float(seconds)), self._duration)

    def _reposition(self, position: float) -> None:
        """Caller holds the lock. Every lane restarts at ``position``."""
        self._anchor_position = position
        for lane in self._lanes:
            lane.seek(position)

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # reported through .error and state, never silently
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("replay of %s failed", self.path)
            with self._lock:
                self._state = STOPPED
            self._finished.set()

    def _loop(self) -> None:
        while not self._quit.is_set():
            with self._lock:
                playing = self._state == PLAYING
                if playing:
                    anchor_clock, anchor_pos, speed = self._anchor_clock, self._anchor_position, self._speed
            if not playing:
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            now = pylsl.local_clock()
            position = anchor_pos + (now - anchor_clock) * speed

            def to_clock(times: np.ndarray, clock=anchor_clock, pos=anchor_pos, rate=speed) -> np.ndarray:
                return clock + (times - pos) / rate

            with self._lock:
                if self._anchor_clock != anchor_clock:  # seek/speed change since we looked
                    continue
                for lane in self._lanes:
                    lane.fill(self._reader, position + self.lookahead * speed)
                    lane.push_due(position, to_clock)
                if all(lane.exhausted for lane in self._lanes):
                    self._end_of_file(anchor_clock, anchor_pos, speed)
                    continue
                upcoming = min(lane.next_time() for lane in self._lanes)
            delay = (upcoming - position) / speed
            self._wake.wait(min(max(delay, 0.0005), 0.05))
            self._wake.clear()

    def _end_of_file(self, anchor_clock: float, anchor_pos: float, speed: float) -> None:
        """Caller holds the lock: loop back (continuing the replay clock) or finish."""
        if self.loop:
            self.laps += 1
            end_clock = anchor_clock + (self._duration - anchor_pos) / speed
            self._reposition(self.start_position)
            self._anchor_clock = end_clock + 1.0 / max(1.0, self._max_rate()) / speed
            return
        self._position = self._duration
        self._state = FINISHED
        self._finished.set()

    def _max_rate(self) -> float:
        return max((lane.stream.nominal_srate for lane in self._lanes), default=0.0)

