"""Send markers from an experiment script to the Attune marker server.

    from sync.client import MarkerClient
    mc = MarkerClient("tcp://127.0.0.1:5556", sender_id="stim")
    mc.send("face_onset", stimulus="id3_m05.png", morph=5)
    mc.send("response", timestamp=t_flip, value=63.0, rt=1.234)
    mc.close()

``send`` stamps the event with pylsl.local_clock() (or takes the stamp it
is given, e.g. a frame flip time) and hands it to a background thread that
owns the socket; it returns once that thread has put the marker on the
wire (typically 0.2 ms, never more than 2 ms), so a stimulus loop is never
held up by the network, and a loop that busy-waits cannot starve the
sender. The thread keeps every marker until the
server acknowledges it as recorded, resends after reconnects, and probes
the server's clock so the server can map these stamps onto its own.
``close`` waits (bounded) for the last acks and returns what was not
delivered, so a script can say so instead of losing markers quietly.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections import OrderedDict, deque
from typing import Any

import pylsl
import zmq
from zmq.utils.monitor import recv_monitor_message

from .keys import ClientKeys, apply_client
from .ordering import format_spans
from .protocol import (
    DEFAULT_ENDPOINT,
    SENDER_RE,
    Ack,
    MarkerMessage,
    Refused,
    Rejected,
    SyncReply,
    SyncRequest,
    check_fields,
    check_name,
    decode_server,
    encode,
)

log = logging.getLogger("attune.sync.client")




class _Pending:
    """A marker not yet acknowledged, and when it last went out."""

    __slots__ = ("marker", "sent")

    def __init__(self, marker: MarkerMessage) -> None:
        self.marker = marker
        self.sent: float | None = None


class MarkerClient:
    """Non-blocking, loss-aware marker sender (one session per instance)."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, sender_id: str = "markers", *,
                 max_pending: int = 100_000, resend_after: float = 1.0,
                 sync_interval: float = 0.25, burst: int = 8, burst_interval: float = 0.02,
                 handoff_timeout: float = 0.002, keys: ClientKeys | None = None) -> None:
        if not isinstance(sender_id, str) or not SENDER_RE.fullmatch(sender_id):
            raise ValueError(f"sender_id {sender_id!r}: use 1-64 letters, digits, _ or -")
        self.endpoint = endpoint
        self.sender_id = sender_id
        self.session = uuid.uuid4().hex[:16]
        self.max_pending = max_pending
        self.resend_after = resend_after
        self.sync_interval = sync_interval
        self.burst = burst
        self.burst_interval = burst_interval
        self.handoff_timeout = handoff_timeout
        self._handed = threading.Event()

        self._lock = threading.Lock()
        self._incoming: deque[MarkerMessage] = deque()
        self._next_seq = 1
        self._closing = False
        self._flush_deadline = 0.0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

        # owned by the background thread
        self._pending: OrderedDict[int, _Pending] = OrderedDict()
        self._unsent: deque[int] = deque()  # seqs to (re)send, ascending; acked ones are skipped
        self._dropped: list[MarkerMessage] = []
        self._server_synced = False
        self._probe_id = 0
        self._probe: tuple[int, float] | None = None  # (id, t0) awaiting a reply
        self._done: tuple[int, float] | None = None  # last completed (id, t3)
        self._burst_left = burst
        self._next_probe = 0.0
        self._connected = False
        self._retry_at = 0.0  # after a refused send (no connection), when to try again
        self.offset: float | None = None  # latest single-exchange offset, for display only
        self.undelivered: list[MarkerMessage] = []
        self.refused: Refused | None = None  # set when the server said it will not record this session

        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.IMMEDIATE, 1)  # no queueing into a dead connection: we keep them
        self._sock.setsockopt(zmq.SNDHWM, 100_000)
        self._sock.setsockopt(zmq.RECONNECT_IVL, 100)
        self._sock.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
        self._sock.setsockopt(zmq.LINGER, 0)
        if keys is not None:  # a server open to the network admits only known keys (sync.keys)
            apply_client(self._sock, keys)
        self.handshake_error: str | None = None  # e.g. the server does not admit this key
        self._monitor = self._sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
            | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        self._sock.connect(endpoint)
        self._thread = threading.Thread(target=self._run, name=f"attune-markers-{sender_id}", daemon=True)
        self._thread.start()

    # -- caller side -------------------------------------------------------
    def send(self, event: str, *, timestamp: float | None = None, **fields: Any) -> int:
        """Queue one marker; returns its sequence number. Never waits on the network.

        The stamp is taken first, so validation does not delay it. Bad names
        or values raise ValueError here, where the script author sees them.
        """
        t = pylsl.local_clock() if timestamp is None else float(timestamp)
        try:
            check_name(event, "event")
            check_fields(fields)
        except Rejected as rej:
            raise ValueError(f"marker {event!r}: {rej.detail}") from None
        with self._lock:
            if self._closing:
                raise RuntimeError("MarkerClient is closed")
            seq = self._next_seq
            self._next_seq += 1
            self._incoming.append(MarkerMessage(self.sender_id, self.session, seq, t, event, fields))
            self._handed.clear()
        self._wake()
        # Hand over: wait (briefly) until the sending thread has put it on the wire. Without
        # this, a stimulus loop that busy-waits for its next frame keeps the GIL, and the
        # sending thread gets it back once per switch interval (5 ms) per step: tens of ms.
        self._handed.wait(self.handoff_timeout)
        return seq

    def close(self, timeout: float = 2.0, *, warn: bool = True) -> list[MarkerMessage]:
        """Flush for at most ``timeout`` s; return (and log, unless the caller reports them) the markers not delivered."""
        with self._lock:
            if self._closing:
                self._thread.join()
                return self.undelivered
            self._closing = True
            self._flush_deadline = time.monotonic() + timeout
        self._wake()
        self._thread.join(timeout + 2.0)
        if self.undelivered and warn:
            seqs = [m.seq for m in self.undelivered]
            log.warning("%d markers of %r were not delivered to %s: seq %s", len(seqs), self.sender_id,
                        self.endpoint, _ranges(seqs))
        return self.undelivered

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def pending(self) -> int:
        """Markers sent but not yet acknowledged as recorded (approximate, for display)."""
        return len(self._pending) + len(self._incoming)

    def __enter__(self) -> MarkerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # the thread is already due to wake

    # -- background thread -------------------------------------------------
    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        try:
            while True:
                now = time.monotonic()
                events = dict(poller.poll(max(0, int(self._next_wakeup(now) * 1000) + 1)))
                if self._wake_r.fileno() in events or self._wake_r in events:
                    self._drain_wake()
                if self._monitor in events:
                    self._on_monitor()
                if self._sock in events:
                    self._on_replies()
                self._take_incoming()
                now = time.monotonic()
                self._transmit(now)
                self._handed.set()
                self._maybe_probe(now)
                if self._finished(now):
                    break
        except Exception:
            log.exception("marker client thread failed")
        finally:
            with self._lock:
                self._closing = True
                rest = list(self._incoming)
                self._incoming.clear()
            self.undelivered = self._dropped + [p.marker for p in self._pending.values()] + rest
            self._sock.disable_monitor()
            self._monitor.close(0)
            self._sock.close(0)
            self._ctx.term()
            self._wake_r.close()
            self._wake_w.close()

    def _next_wakeup(self, now: float) -> float:
        due = [self._next_probe - now, 0.1]
        if self._unsent:
            due.append(self._retry_at - now)
        if self._pending:
            first = next(iter(self._pending.values()))
            if first.sent is not None:
                due.append(first.sent + self.resend_after - now)
        if self._closing:
            due.append(self._flush_deadline - now)
        return min(max(d, 0.0) for d in due)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _on_monitor(self) -> None:
        while True:
            try:
                event = recv_monitor_message(self._monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                # a fresh connection (maybe to a restarted server): resend all, re-measure the clock
                self._connected = True
                self._server_synced = False
                self._burst_left = self.burst
                self._next_probe = 0.0
                self._probe = self._done = None
                self._retry_at = 0.0
                for p in self._pending.values():
                    p.sent = None
                self._unsent = deque(self._pending)
            elif event["event"] == zmq.EVENT_DISCONNECTED:
                self._connected = False
            elif self.handshake_error is None:  # a failed handshake: wrong or missing keys
                self.handshake_error = ("the server did not admit this sender's key" if
                                        event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH else
                                        "the security handshake failed (keys on one side only?)")
                log.error("marker server %s: %s; markers are kept until it does", self.endpoint,
                          self.handshake_error)

    def _on_replies(self) -> None:
        while True:
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            t3 = pylsl.local_clock()
            try:
                msg = decode_server(frames)
            except Rejected as rej:
                log.warning("unexpected reply from %s: %s", self.endpoint, rej)
                continue
            if isinstance(msg, Ack):
                if msg.session == self.session:
                    while self._pending and next(iter(self._pending)) <= msg.through:
                        self._pending.popitem(last=False)
            elif isinstance(msg, Refused):
                if msg.session == self.session and self.refused is None:
                    self.refused = msg
                    log.error("the marker server at %s refuses markers of %r (%s): %s", self.endpoint,
                              self.sender_id, msg.reason, msg.detail)
            elif isinstance(msg, SyncReply):
                self._server_synced = msg.synced
                if self._probe is not None and msg.id == self._probe[0] and msg.t0 == self._probe[1]:
                    self._done = (msg.id, t3)
                    self.offset = ((msg.t1 - msg.t0) + (msg.t2 - t3)) / 2.0
                    self._probe = None
                    if self._burst_left > 0:
                        self._next_probe = min(self._next_probe, time.monotonic() + self.burst_interval)

    def _take_incoming(self) -> None:
        with self._lock:
            batch = list(self._incoming)
            self._incoming.clear()
        for marker in batch:
            self._pending[marker.seq] = _Pending(marker)
            self._unsent.append(marker.seq)
        overflow = len(self._pending) - self.max_pending
        if overflow > 0:  # never block or grow without bound: give up the oldest, and say so
            for _ in range(overflow):
                self._dropped.append(self._pending.popitem(last=False)[1].marker)
            if len(self._dropped) == overflow or len(self._dropped) % 1000 < overflow:
                log.error("marker queue of %r is full (%d unacknowledged); %d oldest markers given up",
                          self.sender_id, self.max_pending, len(self._dropped))

    def _transmit(self, now: float) -> None:
        """Send new markers and resend overdue ones, in sequence order.

        Work is proportional to what is sent, not to what awaits an ack, so
        a burst of thousands of markers costs no more per marker than one.
        """
        if not self._pending or now < self._retry_at:
            return
        overdue = []  # sends happen in seq order, so the overdue ones are a prefix
        for seq, p in self._pending.items():
            if p.sent is None or now - p.sent < self.resend_after:
                break
            p.sent = None
            overdue.append(seq)
        self._unsent.extendleft(reversed(overdue))
        floor = next(iter(self._pending))
        while self._unsent:
            p = self._pending.get(self._unsent[0])
            if p is None or p.sent is not None:  # acked or given up meanwhile
                self._unsent.popleft()
                continue
            m = p.marker
            try:
                frame = encode(MarkerMessage(m.sender, m.session, m.seq, m.t, m.event, m.fields, floor))
            except (ValueError, TypeError) as exc:  # changed after send() checked it: give it up, not the thread
                log.error("marker %d of %r cannot be encoded (%s); not sent", m.seq, self.sender_id, exc)
                self._dropped.append(self._pending.pop(m.seq).marker)
                self._unsent.popleft()
                continue
            try:
                self._sock.send(frame, zmq.NOBLOCK)
            except zmq.Again:
                self._retry_at = now + 0.1  # not connected: keep them; retry on reconnect or timer
                return
            p.sent = now
            self._unsent.popleft()

    def _maybe_probe(self, now: float) -> None:
        if now < self._next_probe:
            return
        if self._burst_left > 0:
            self._burst_left -= 1
            self._next_probe = now + self.burst_interval
        else:
            self._next_probe = now + self.sync_interval
        self._probe_id += 1
        t0 = pylsl.local_clock()
        frame = encode(SyncRequest(self.sender_id, self.session, self._probe_id, t0, self._done))
        try:
            self._sock.send(frame, zmq.NOBLOCK)
        except zmq.Again:
            self._burst_left = self.burst  # not connected yet; burst again once we are
            self._next_probe = now + 0.1
            return
        self._probe = (self._probe_id, t0)
        self._done = None

    def _finished(self, now: float) -> bool:
        if not self._closing:
            return False
        if now >= self._flush_deadline:
            return True
        with self._lock:
            queued = bool(self._incoming)
        sent_any = self._next_seq > 1
        return not queued and not self._pending and (self._server_synced or not sent_any)


def _ranges(seqs: list[int]) -> str:
    """1,2,3,7 -> '1-3, 7' for readable loss reports."""
    spans: list[list[int]] = []
    for seq in sorted(seqs):
        if spans and seq == spans[-1][1] + 1:
            spans[-1][1] = seq
        else:
            spans.append([seq, seq])
    return format_spans([(a, b) for a, b in spans])
