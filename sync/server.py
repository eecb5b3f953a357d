"""The marker server: ROUTER socket in, sink (the XDF recorder) and LSL out.

One thread owns the socket, the per-session ordering and clock estimators,
and every call into the sink, so nothing here needs locks. A marker is
acknowledged only after the sink took it, so an ack means "recorded"; a
client keeps resending until then, and the per-session Sequencer turns
those resends back into one ordered copy. Stopping hands the whole state to
a successor (``MarkerServer(..., resume=old.stop())``) so a restart keeps
the same streams and still recognises resends of what was already stored.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import pylsl
import zmq

from .clock import ClockEstimate, ClockEstimator
from .keys import ServerKeys
from .ordering import Sequencer, format_spans
from .protocol import (
    DEFAULT_ENDPOINT,
    MAX_MESSAGE_BYTES,
    REJECT_REASONS,
    Ack,
    MarkerMessage,
    Refused,
    Rejected,
    SyncReply,
    SyncRequest,
    check_server_security,
    decode_client,
    encode,
)
from .streams import clock_info_xml, marker_info_xml

log = logging.getLogger("attune.sync.server")


#: Each sender id costs two recorded streams, an LSL outlet and its threads; a recording
#: rarely has more than a handful, so this many is generous and still bounds the cost.
DEFAULT_MAX_SENDERS = 32
#: Each MarkerClient instance is a session; a script that restarts (or ``markers send`` run once
#: per event) makes many. Finished ones make room for new ones; this many may be open at once.
DEFAULT_MAX_SESSIONS = 64
#: A session this long silent, with nothing held or unstored, is finished and may be forgotten.
SESSION_IDLE_SECONDS = 10.0
#: Lost ranges kept per sender for the summary; the count of lost markers stays exact beyond it.
MAX_LOST_RANGES = 1000


class StreamHandle(Protocol):
    def push(self, stamps: list[float], values: list[list[str]]) -> None: ...
    def clock_offset(self, collection_time: float, offset: float) -> None: ...


class StreamStore(Protocol):
    """Where the marker server records its streams (acquisition.recorder.Recorder implements this)."""

    def add_stream(self, info_xml: str, fmt: str, nominal_srate: float) -> StreamHandle: ...


@dataclass
class _Session:
    """One MarkerClient instance: its ordering, its clock, where to send acks."""

    sender: str
    session: str
    routing_id: bytes
    order: Sequencer
    clock: ClockEstimator
    probes: OrderedDict[int, tuple[float, float, float]] = field(default_factory=OrderedDict)
    unstored: deque[int] = field(default_factory=deque)  # delivered in order, not yet in the sink
    ack_due: bool = False
    written: ClockEstimate | None = None  # last estimate written as a ClockOffset
    written_when: float = -1e300
    last_seen: float = 0.0  # monotonic time of its last message

    @property
    def ack_through(self) -> int:
        return self.unstored[0] - 1 if self.unstored else self.order.through


@dataclass
class _Sender:
    """A sender id's recorded streams (shared by its sessions, e.g. after a client restart)."""

    markers: StreamHandle | None = None
    clock: StreamHandle | None = None
    backlog: list[tuple[_Session, MarkerMessage]] = field(default_factory=list)
    relay_wait: list[tuple[_Session, MarkerMessage, float]] = field(default_factory=list)


@dataclass
class ServerState:
    """Everything a restarted server needs to continue exactly where the last one stopped."""

    sessions: dict[tuple[str, str], _Session] = field(default_factory=dict)
    senders: dict[str, _Sender] = field(default_factory=dict)
    relay: Any = None
    counters: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=lambda: {r: 0 for r in REJECT_REASONS})
    lost: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # the first MAX_LOST_RANGES
    lost_count: dict[str, int] = field(default_factory=dict)  # markers reported lost, per sender
    admitted: set[str] = field(default_factory=set)  # sender ids given a place (at most max_senders)
    refused_senders: set[str] = field(default_factory=set)  # first few ids turned away, for the log


class MarkerServer:
    """Receives markers and clock probes; records them in ``sink``; republishes on LSL.

    ``endpoint`` may use port ``*`` (pick a free one; read ``.endpoint``
    after start). Anything but loopback needs ``allow_network=True``.
    At most ``max_senders`` sender ids are recorded; later ones are refused
    with the reason ``too_many_senders`` (counted, logged and told to the client).
    With ``keys`` (sync.keys.server_keys) the socket speaks CurveZMQ and admits
    only senders whose public key is in the key folder; an endpoint open to
    the network needs keys unless ``insecure=True`` says anyone may send.
    """

    def __init__(self, sink: StreamStore, endpoint: str = DEFAULT_ENDPOINT, *,
                 allow_network: bool = False, relay: bool = True, gap_timeout: float = 3.0,
                 offset_interval: float = 5.0, relay_hold: float = 1.0,
                 max_message_bytes: int = MAX_MESSAGE_BYTES, max_senders: int = DEFAULT_MAX_SENDERS,
                 max_sessions: int = DEFAULT_MAX_SESSIONS, session_idle: float = SESSION_IDLE_SECONDS,
                 keys: ServerKeys | None = None, insecure: bool = False,
                 resume: ServerState | None = None) -> None:
        if max_senders < 1:
            raise ValueError(f"max_senders must be at least 1, got {max_senders}")
        self.sink = sink
        self.max_senders = max_senders
        self.max_sessions = max(1, max_sessions)
        self.session_idle = session_idle
        self._requested = check_server_security(endpoint, allow_network, keys, insecure)
        self.keys = keys
        self._auth: Any = None
        self.gap_timeout = gap_timeout
        self.offset_interval = offset_interval
        self.relay_hold = relay_hold
        self.max_message_bytes = max_message_bytes
        self.state = resume or ServerState()
        if relay and self.state.relay is None:
            from .lsl_relay import LslRelay
            self.state.relay = LslRelay()
        elif not relay:
            self.state.relay = None
        for name in ("received", "stored", "duplicates", "late", "sink_errors", "relay_errors"):
            self.state.counters.setdefault(name, 0)
        self._ctx: zmq.Context | None = None
        self._sock: zmq.Socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.endpoint: str = ""

    # -- life cycle ------------------------------------------------------
    def start(self) -> MarkerServer:
        self._ctx = zmq.Context()
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.RCVHWM, 100_000)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.setsockopt(zmq.MAXMSGSIZE, 16 * self.max_message_bytes)  # hard cap: drops the peer
        sock.setsockopt(zmq.LINGER, 1000)  # let the last acks out on stop
        if self.keys is not None:
            from zmq.auth.thread import ThreadAuthenticator

            self._auth = ThreadAuthenticator(self._ctx, log=logging.getLogger("attune.sync.auth"))
            self._auth.start()
            self._auth.configure_curve(domain="*", location=str(self.keys.allowed_dir))
            sock.curve_secretkey = self.keys.pair.secret
            sock.curve_publickey = self.keys.pair.public
            sock.curve_server = True
        deadline = time.monotonic() + 3.0
        while True:
            try:
                sock.bind(self._requested)
                break
            except zmq.ZMQError as exc:  # a predecessor's port may take a moment to free
                if exc.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    sock.close(0)
                    if self._auth is not None:
                        self._auth.stop()
                        self._auth = None
                    self._ctx.term()
                    raise
                time.sleep(0.05)
        self._sock = sock
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self._thread = threading.Thread(target=self._run, name="attune-marker-server", daemon=True)
        self._thread.start()
        log.info("marker server listening on %s", self.endpoint)
        return self

    def stop(self, timeout: float = 3.0) -> ServerState:
        """Stop, write the latest clock offsets, and return the state for a successor."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None
        if self._error is not None:
            raise RuntimeError("marker server failed") from self._error
        return self.state

    def __enter__(self) -> MarkerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def close_relay(self) -> None:
        """Remove the LSL outlets (when no successor will take them over)."""
        if self.state.relay is not None:
            self.state.relay.close()

    def close(self) -> ServerState:
        """Stop for good: no successor takes over, so the LSL relay outlets go too."""
        state = self.stop()
        self.close_relay()
        return state

    def stats(self) -> dict[str, Any]:
        s = self.state
        return {**s.counters, "rejected": dict(s.rejected), "lost": {k: list(v) for k, v in s.lost.items()},
                "lost_count": dict(s.lost_count),
                "sessions": len(s.sessions), "senders": sorted(s.senders),
                "refused_senders": sorted(s.refused_senders)}

    # -- the loop ----------------------------------------------------------
    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                if poller.poll(50):
                    self._drain(sock)
                self._tick(time.monotonic())
            self._store()
            self._send_acks(sock)
            self._write_offsets(time.monotonic(), final=True)
            self._relay(final=True)
        except BaseException as exc:  # keep the reason for stop(); a dead loop must be visible
            log.exception("marker server loop failed")
            self._error = exc
        finally:
            sock.close()

    def _drain(self, sock: zmq.Socket) -> None:
        for _ in range(10_000):  # bounded, so periodic work still runs under a flood
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            t_recv = pylsl.local_clock()
            self.state.counters["received"] += 1
            routing_id, body = frames[0], frames[1:]
            msg = None
            try:
                msg = decode_client(body, self.max_message_bytes)
                if isinstance(msg, SyncRequest):
                    self._on_sync(sock, msg, routing_id, t_recv)
                else:
                    self._on_marker(msg, routing_id)
            except Rejected as rej:
                self._reject(rej, routing_id)
                if msg is not None:  # well-formed but refused (a limit): say why to the sender
                    self._tell_refused(sock, rej, routing_id, msg.session)
        self._store()
        self._send_acks(sock)

    def _tick(self, now: float) -> None:
        for sess in self.state.sessions.values():
            if sess.order.held:
                self._deliver(sess, sess.order.expire(now))
        self._store()
        if self._sock is not None:
            self._send_acks(self._sock)
        self._write_offsets(now)
        self._relay()

    # -- messages ------------------------------------------------------------
    def _session(self, sender: str, session: str, routing_id: bytes) -> _Session:
        key = (sender, session)
        sess = self.state.sessions.get(key)
        now = time.monotonic()
        if sess is None:
            self._admit(sender)
            self._make_room(now)
            sess = _Session(sender, session, routing_id, Sequencer(self.gap_timeout), ClockEstimator())
            self.state.sessions[key] = sess
            log.info("marker sender %r connected (session %s)", sender, session)
        sess.routing_id = routing_id
        sess.last_seen = now
        return sess

    def _make_room(self, now: float) -> None:
        """Forget the longest-finished session if ``max_sessions`` are open; refuse if none is finished.

        Bounds memory and the per-tick work, which visits every session."""
        sessions = self.state.sessions
        if len(sessions) < self.max_sessions:
            return
        finished = [s for s in sessions.values()
                    if not s.order.held and not s.unstored and now - s.last_seen >= self.session_idle
                    and (s.clock.estimate is None or s.written is s.clock.estimate)]
        if not finished:
            raise Rejected("too_many_sessions", f"{len(sessions)} sessions are open (the limit) and none "
                                                f"has been silent for {self.session_idle:g} s")
        oldest = min(finished, key=lambda s: s.last_seen)
        del sessions[(oldest.sender, oldest.session)]
        log.info("marker session %s of %r forgotten (finished) to make room", oldest.session, oldest.sender)

    def _admit(self, sender: str) -> None:
        admitted = self.state.admitted
        if sender in admitted:
            return
        if len(admitted) >= self.max_senders:
            refused = self.state.refused_senders
            if sender not in refused and len(refused) < 100:
                refused.add(sender)
                log.error("marker sender %r refused: this recording already has %d senders (the limit; "
                          "raise it with --max-marker-senders)", sender, self.max_senders)
            raise Rejected("too_many_senders", f"sender {sender!r}: this recording takes at most "
                                               f"{self.max_senders} sender ids")
        admitted.add(sender)

    def _tell_refused(self, sock: zmq.Socket, rej: Rejected, routing_id: bytes, session: str) -> None:
        """Let the client say why its markers are not recorded (instead of resending forever)."""
        try:
            sock.send_multipart([routing_id, encode(Refused(session, rej.reason, rej.detail[:300]))], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # best effort; the refusal is counted and logged here either way

    def _on_sync(self, sock: zmq.Socket, msg: SyncRequest, routing_id: bytes, t1: float) -> None:
        sess = self._session(msg.sender, msg.session, routing_id)
        t2 = pylsl.local_clock()
        sock.send_multipart([routing_id, encode(SyncReply(msg.id, msg.t0, t1, t2, sess.clock.ready))],
                            zmq.NOBLOCK)
        sess.probes[msg.id] = (msg.t0, t1, t2)
        while len(sess.probes) > 64:
            sess.probes.popitem(last=False)
        if msg.done is not None:
            probe = sess.probes.pop(msg.done[0], None)
            if probe is not None:
                sess.clock.add(*probe, msg.done[1])

    def _on_marker(self, marker: MarkerMessage, routing_id: bytes) -> None:
        sess = self._session(marker.sender, marker.session, routing_id)
        sess.ack_due = True
        self._deliver(sess, sess.order.offer(marker, time.monotonic()))

    def _deliver(self, sess: _Session, outcome) -> None:
        c = self.state.counters
        c["duplicates"] += outcome.duplicates
        c["late"] += outcome.late
        if outcome.lost:
            kept = self.state.lost.setdefault(sess.sender, [])
            if len(kept) < MAX_LOST_RANGES:  # beyond that the log and the summary give the count
                more = len(outcome.lost) - 20
                ranges = format_spans(outcome.lost[:20]) + (f" and {more} more ranges" if more > 0 else "")
                log.error("markers from %r (session %s) lost: seq %s", sess.sender, sess.session, ranges)
            kept.extend(outcome.lost[:max(0, MAX_LOST_RANGES - len(kept))])
            self.state.lost_count[sess.sender] = (self.state.lost_count.get(sess.sender, 0)
                                                  + sum(b - a + 1 for a, b in outcome.lost))
            sess.ack_due = True
        if outcome.late:
            log.warning("markers from %r arrived after being reported lost; recorded anyway", sess.sender)
        sender = self.state.senders.setdefault(sess.sender, _Sender())
        for marker in outcome.deliver:
            sender.backlog.append((sess, marker))
            sess.unstored.append(marker.seq)

    def _reject(self, rej: Rejected, routing_id: bytes) -> None:
        n = self.state.rejected[rej.reason] = self.state.rejected[rej.reason] + 1
        if n <= 20 or n % 1000 == 0:
            log.warning("marker bus: rejected a message from peer %s (%s #%d): %s",
                        routing_id.hex()[:10], rej.reason, n, rej.detail)

    # -- output --------------------------------------------------------------
    def _store(self) -> None:
        """Hand delivered markers to the sink; kept and retried if the sink fails."""
        now = pylsl.local_clock()
        for name, sender in self.state.senders.items():
            if not sender.backlog:
                continue
            try:
                if sender.markers is None:
                    sender.markers = self.sink.add_stream(marker_info_xml(name, now), "string", 0.0)
                if sender.clock is None:
                    sender.clock = self.sink.add_stream(clock_info_xml(name, now), "string", 0.0)
                sender.markers.push([m.t for _, m in sender.backlog],
                                    [[m.sample_text()] for _, m in sender.backlog])
            except Exception:
                self.state.counters["sink_errors"] += 1
                if self.state.counters["sink_errors"] <= 20:
                    log.exception("the recorder refused %d markers from %r; retrying",
                                  len(sender.backlog), name)
                continue
            self.state.counters["stored"] += len(sender.backlog)
            for sess, marker in sender.backlog:
                sess.unstored.popleft()
                sess.ack_due = True
                if self.state.relay is not None:
                    sender.relay_wait.append((sess, marker, now))
            sender.backlog.clear()

    def _send_acks(self, sock: zmq.Socket) -> None:
        for sess in self.state.sessions.values():
            if sess.ack_due:
                sess.ack_due = False
                try:
                    sock.send_multipart([sess.routing_id, encode(Ack(sess.session, sess.ack_through))],
                                        zmq.NOBLOCK)
                except zmq.Again:
                    sess.ack_due = True

    def _write_offsets(self, now: float, final: bool = False) -> None:
        """ClockOffset chunks (LabRecorder style) plus the estimate and its uncertainty."""
        for sess in self.state.sessions.values():
            est = sess.clock.estimate
            sender = self.state.senders.get(sess.sender)
            if est is None or est is sess.written or sender is None or sender.clock is None:
                continue
            if not final and sess.written is not None and now - sess.written_when < self.offset_interval:
                continue
            try:
                assert sender.markers is not None
                sender.markers.clock_offset(est.at, est.offset)
                sender.clock.clock_offset(est.at, est.offset)
                sender.clock.push([est.at], [[json.dumps(est.as_record(), separators=(",", ":"))]])
            except Exception:
                self.state.counters["sink_errors"] += 1
                log.exception("the recorder refused a clock offset for %r", sess.sender)
                continue
            sess.written, sess.written_when = est, now

    def _relay(self, final: bool = False) -> None:
        """Push stored markers to LSL on the server clock, in order per sender.

        A marker whose session has no clock estimate yet waits up to
        ``relay_hold`` seconds for one, then goes out stamped on arrival.
        """
        relay = self.state.relay
        if relay is None:
            return
        now = pylsl.local_clock()
        for name, sender in self.state.senders.items():
            wait = sender.relay_wait
            stamps: list[float] = []
            values: list[str] = []
            unsynced = 0
            while len(stamps) < len(wait):
                sess, marker, arrived = wait[len(stamps)]
                est = sess.clock.estimate
                if est is not None:
                    stamps.append(est.map(marker.t))
                elif final or now - arrived >= self.relay_hold:
                    stamps.append(arrived)
                    unsynced += 1
                else:
                    break
                values.append(marker.sample_text())
            if not stamps:
                continue
            del wait[:len(stamps)]
            if unsynced:
                log.warning("relayed %d markers of %r stamped on arrival: no clock estimate yet",
                            unsynced, name)
            try:
                relay.push(name, stamps, values)
            except Exception:
                self.state.counters["relay_errors"] += 1
                log.exception("LSL relay failed for %r", name)
