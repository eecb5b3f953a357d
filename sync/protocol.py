"""The marker contract: default endpoint, wire schema, recorded sample; parse and format.

This module is the one home of everything two parts of Attune must agree
on about markers. Between a marker client (DEALER) and the marker server
(ROUTER) both sides validate with the same rules, and the server can name
exactly why it refused a message. Every message is a single ZeroMQ frame
holding one UTF-8 JSON object with a version ``"v"`` and a ``"type"``;
docs/markers.md is the human-readable copy of this schema. What is stored
in the XDF file (and relayed on LSL) is one string sample per marker,
``{"event":E,"seq":N,...fields}``: ``format_sample`` writes it and
``parse_sample`` reads it back (live view, analysis, the simulated body).

Client -> server:
  marker  {"v":1,"type":"marker","sender":S,"session":X,"seq":N,"floor":F,
           "t":T,"event":E,"fields":{...}}
  sync    {"v":1,"type":"sync","sender":S,"session":X,"id":K,"t0":T0,
           "done":[K_prev, T3_prev] | null}
Server -> client:
  ack     {"v":1,"type":"ack","session":X,"through":N}
  refused {"v":1,"type":"refused","session":X,"reason":R,"detail":D}
  sync    {"v":1,"type":"sync","id":K,"t0":T0,"t1":T1,"t2":T2,"synced":bool}
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

VERSION = 1
#: Where the marker server listens and clients send unless told otherwise: this machine only.
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5556"
#: Messages above this size are refused before they are parsed.
MAX_MESSAGE_BYTES = 64 * 1024
#: Sequence numbers start at 1 and stay exact in a JSON double.
MAX_SEQ = 2**53

#: Event and field names: short identifiers, safe in JSON keys and logs.
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
#: Sender ids end up in stream names and source ids.
SENDER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Session ids are chosen by the client, one per MarkerClient instance.
SESSION_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Field names that the recorded sample (or the client API) already uses.
RESERVED_FIELDS = frozenset({"event", "seq", "timestamp"})
MAX_FIELDS = 64
MAX_DEPTH = 4

#: Reasons a message is refused; each gets its own counter on the server.
REJECT_REASONS = (
    "oversized", "multipart", "not_utf8", "not_json", "not_object", "unknown_version",
    "unknown_type", "missing_field", "unknown_field", "wrong_type", "bad_value",
    "too_many_senders", "too_many_sessions",
)


class Rejected(ValueError):
    """A message does not follow the schema; ``reason`` is one of REJECT_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REJECT_REASONS, reason
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True)
class MarkerMessage:
    """One marker on the bus, as the sender saw it: its own clock time, its own numbering."""

    sender: str
    session: str
    seq: int
    t: float
    event: str
    fields: dict[str, Any] = field(default_factory=dict)
    floor: int = 1  # lowest seq the client still holds; all below were acked or given up

    def sample_text(self) -> str:
        """The recorded sample (see format_sample)."""
        return format_sample(self.event, self.seq, self.fields)


@dataclass(frozen=True)
class SyncRequest:
    """Clock probe from the sender; ``done`` completes the previous exchange."""

    sender: str
    session: str
    id: int
    t0: float
    done: tuple[int, float] | None = None


@dataclass(frozen=True)
class Ack:
    """Cumulative: every seq up to ``through`` is stored (or was reported lost)."""

    session: str
    through: int


@dataclass(frozen=True)
class Refused:
    """The server will not record this session's markers; ``reason`` is one of REJECT_REASONS."""

    session: str
    reason: str
    detail: str


@dataclass(frozen=True)
class SyncReply:
    id: int
    t0: float
    t1: float
    t2: float
    synced: bool


ClientMessage = MarkerMessage | SyncRequest
ServerMessage = Ack | SyncReply | Refused


# -- encoding -------------------------------------------------------------

def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def encode(msg: ClientMessage | ServerMessage) -> bytes:
    """One frame for any message type."""
    if isinstance(msg, MarkerMessage):
        return _dumps({"v": VERSION, "type": "marker", "sender": msg.sender, "session": msg.session,
                       "seq": msg.seq, "floor": msg.floor, "t": msg.t, "event": msg.event,
                       "fields": msg.fields})
    if isinstance(msg, SyncRequest):
        done = list(msg.done) if msg.done is not None else None
        return _dumps({"v": VERSION, "type": "sync", "sender": msg.sender, "session": msg.session,
                       "id": msg.id, "t0": msg.t0, "done": done})
    if isinstance(msg, Ack):
        return _dumps({"v": VERSION, "type": "ack", "session": msg.session, "through": msg.through})
    if isinstance(msg, Refused):
        return _dumps({"v": VERSION, "type": "refused", "session": msg.session, "reason": msg.reason,
                       "detail": msg.detail})
    if isinstance(msg, SyncReply):
        return _dumps({"v": VERSION, "type": "sync", "id": msg.id, "t0": msg.t0, "t1": msg.t1,
                       "t2": msg.t2, "synced": msg.synced})
    raise TypeError(f"not a marker-bus message: {msg!r}")


# -- the recorded sample ----------------------------------------------------

#: A recorded sample longer than this is not one of ours (a message is at most MAX_MESSAGE_BYTES).
MAX_SAMPLE_CHARS = MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class RecordedMarker:
    """A marker as stored in the recording and relayed on LSL: its event, seq and the sender's fields."""

    event: str
    seq: int | None
    fields: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The sample's JSON object again: event, seq (when known), then the fields."""
        head: dict[str, Any] = {"event": self.event}
        if self.seq is not None:
            head["seq"] = self.seq
        return {**head, **self.fields}


def format_sample(event: str, seq: int, fields: dict[str, Any]) -> str:
    """Compact JSON with event and seq first, then the sender's fields."""
    return json.dumps({"event": event, "seq": seq, **fields},
                      separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def parse_sample(text: str | bytes) -> RecordedMarker | None:
    """One recorded (or relayed) marker sample, or None when it is not an Attune marker.

    Any marker stream may be read (plain-text markers from other software
    too), so "not ours" is an answer, not an error; reserved names never
    come back as fields. Bounded: long samples are not parsed.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str) or len(text) > MAX_SAMPLE_CHARS or not text.lstrip().startswith("{"):
        return None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # Rejected is a ValueError too
        return None
    if not isinstance(obj, dict):
        return None
    event, seq = obj.get("event"), obj.get("seq")
    if not isinstance(event, str) or not event:
        return None
    if isinstance(seq, bool) or not isinstance(seq, int):
        seq = None
    return RecordedMarker(event, seq, {k: v for k, v in obj.items() if k not in RESERVED_FIELDS})


# -- validation -----------------------------------------------------------

def check_name(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise Rejected("wrong_type", f"{what} must be text, got {type(value).__name__}")
    if not NAME_RE.fullmatch(value):
        raise Rejected("bad_value", f"{what} {value!r} is not a name (letters, digits, _ . : -; "
                                    "starts with a letter or _; at most 64)")
    return value


def _check_text(value: str, where: str) -> None:
    """JSON may carry a lone surrogate ("\\ud800"); it cannot be written as UTF-8, so refuse it here."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Rejected("not_utf8", f"{where} holds {value[exc.start]!r} at character {exc.start}, "
                                   "which is not text (a lone surrogate)") from None


def _check_value(value: Any, where: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise Rejected("bad_value", f"{where} is nested deeper than {MAX_DEPTH}")
    if isinstance(value, str):
        _check_text(value, where)
        return
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Rejected("bad_value", f"{where} must be a finite number, got {value!r}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]", depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise Rejected("wrong_type", f"{where} has a non-text key {key!r}")
            _check_text(key, f"{where} key")
            _check_value(item, f"{where}.{key}", depth + 1)
        return
    raise Rejected("wrong_type", f"{where} must be text, a number, true/false, null, a list or "
                                 f"a mapping; got {type(value).__name__}")


def check_fields(fields: Any) -> dict[str, Any]:
    """The sender's structured fields: named, JSON-representable, finite numbers."""
    if not isinstance(fields, dict):
        raise Rejected("wrong_type", f"fields must be an object, got {type(fields).__name__}")
    if len(fields) > MAX_FIELDS:
        raise Rejected("bad_value", f"at most {MAX_FIELDS} fields, got {len(fields)}")
    for key, value in fields.items():
        check_name(key, "field name")
        if key in RESERVED_FIELDS:
            raise Rejected("bad_value", f"field name {key!r} is reserved ({', '.join(sorted(RESERVED_FIELDS))})")
        _check_value(value, f"field {key!r}")
    return fields


def _get(obj: dict[str, Any], key: str, types: type | tuple[type, ...], what: str) -> Any:
    if key not in obj:
        raise Rejected("missing_field", f"{what} message has no {key!r}")
    value = obj[key]
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise Rejected("wrong_type", f"{what}.{key} must be {_type_names(types)}, got a boolean")
    if not isinstance(value, types):
        raise Rejected("wrong_type", f"{what}.{key} must be {_type_names(types)}, got {type(value).__name__}")
    return value


def _type_names(types: type | tuple[type, ...]) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {int: "an integer", float: "a number", str: "text", bool: "true/false", dict: "an object",
             list: "a list", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _seq(obj: dict[str, Any], key: str, what: str) -> int:
    value = _get(obj, key, int, what)
    if not 1 <= value < MAX_SEQ:
        raise Rejected("bad_value", f"{what}.{key} must be between 1 and 2^53, got {value}")
    return value


def _time(obj: dict[str, Any], key: str, what: str) -> float:
    value = float(_get(obj, key, (int, float), what))
    if not math.isfinite(value):
        raise Rejected("bad_value", f"{what}.{key} must be finite")
    return value


def _only(obj: dict[str, Any], keys: set[str], what: str) -> None:
    extra = sorted(set(obj) - keys)
    if extra:
        raise Rejected("unknown_field", f"{what} message has unknown key {extra[0]!r}")


def _ident(obj: dict[str, Any], key: str, pattern: re.Pattern, what: str) -> str:
    value = _get(obj, key, str, what)
    if not pattern.fullmatch(value):
        raise Rejected("bad_value", f"{what}.{key} {value[:80]!r} must be 1-64 letters, digits, _ or -")
    return value


def _reject_constant(name: str) -> Any:
    raise Rejected("bad_value", f"{name} is not a number JSON allows")


def parse_object(frames: list[bytes], max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """Frames -> JSON object with a known version, or Rejected."""
    if len(frames) != 1:
        raise Rejected("multipart", f"expected 1 frame, got {len(frames)}")
    raw = frames[0]
    if len(raw) > max_bytes:
        raise Rejected("oversized", f"{len(raw)} bytes, the limit is {max_bytes}")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("not_utf8", f"byte {exc.start} is not UTF-8") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except Rejected:
        raise
    except (ValueError, RecursionError) as exc:
        raise Rejected("not_json", str(exc)[:120]) from None
    if not isinstance(obj, dict):
        raise Rejected("not_object", f"expected a JSON object, got {type(obj).__name__}")
    if "v" not in obj:
        raise Rejected("missing_field", "message has no version 'v'")
    if isinstance(obj["v"], bool) or obj["v"] != VERSION:
        raise Rejected("unknown_version", f"version {obj['v']!r}; this server speaks {VERSION}")
    if "type" not in obj:
        raise Rejected("missing_field", "message has no 'type'")
    return obj


def decode_client(frames: list[bytes], max_bytes: int = MAX_MESSAGE_BYTES) -> ClientMessage:
    """What the server accepts from senders; anything else raises Rejected with a reason."""
    obj = parse_object(frames, max_bytes)
    kind = obj["type"]
    if kind == "marker":
        _only(obj, {"v", "type", "sender", "session", "seq", "floor", "t", "event", "fields"}, "marker")
        sender = _ident(obj, "sender", SENDER_RE, "marker")
        session = _ident(obj, "session", SESSION_RE, "marker")
        seq = _seq(obj, "seq", "marker")
        floor = _seq(obj, "floor", "marker")
        if floor > seq:
            raise Rejected("bad_value", f"marker.floor {floor} is above its seq {seq}")
        t = _time(obj, "t", "marker")
        event = check_name(_get(obj, "event", str, "marker"), "marker.event")
        fields = check_fields(_get(obj, "fields", dict, "marker"))
        return MarkerMessage(sender, session, seq, t, event, fields, floor)
    if kind == "sync":
        _only(obj, {"v", "type", "sender", "session", "id", "t0", "done"}, "sync")
        sender = _ident(obj, "sender", SENDER_RE, "sync")
        session = _ident(obj, "session", SESSION_RE, "sync")
        ident = _seq(obj, "id", "sync")
        t0 = _time(obj, "t0", "sync")
        done = obj.get("done")
        if done is not None:
            if (not isinstance(done, list) or len(done) != 2 or isinstance(done[0], bool)
                    or not isinstance(done[0], int) or isinstance(done[1], bool)
                    or not isinstance(done[1], (int, float)) or not math.isfinite(done[1])):
                raise Rejected("wrong_type", "sync.done must be null or [id, t3]")
            done = (int(done[0]), float(done[1]))
        return SyncRequest(sender, session, ident, t0, done)
    raise Rejected("unknown_type", f"type {str(kind)[:40]!r} (known: marker, sync)")


def decode_server(frames: list[bytes]) -> ServerMessage:
    """What the client accepts from the server (same strictness, other direction)."""
    obj = parse_object(frames)
    kind = obj["type"]
    if kind == "ack":
        _only(obj, {"v", "type", "session", "through"}, "ack")
        through = _get(obj, "through", int, "ack")
        return Ack(_ident(obj, "session", SESSION_RE, "ack"), through)
    if kind == "sync":
        _only(obj, {"v", "type", "id", "t0", "t1", "t2", "synced"}, "sync")
        return SyncReply(_seq(obj, "id", "sync"), _time(obj, "t0", "sync"), _time(obj, "t1", "sync"),
                         _time(obj, "t2", "sync"), bool(_get(obj, "synced", bool, "sync")))
    if kind == "refused":
        _only(obj, {"v", "type", "session", "reason", "detail"}, "refused")
        reason = _get(obj, "reason", str, "refused")
        if reason not in REJECT_REASONS:
            raise Rejected("bad_value", f"refused.reason {reason[:40]!r} is not a known reason")
        return Refused(_ident(obj, "session", SESSION_RE, "refused"), reason,
                       _get(obj, "detail", str, "refused")[:300])
    raise Rejected("unknown_type", f"type {str(kind)[:40]!r} (known: ack, sync, refused)")


def open_to_network(endpoint: str) -> bool:
    """True when a tcp endpoint binds beyond this machine (0.0.0.0, a lab address, a name)."""
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    return host not in ("127.0.0.1", "localhost", "::1")


def check_endpoint(endpoint: str, allow_network: bool) -> str:
    """Refuse to bind beyond this machine unless asked to: markers stay local by default."""
    if not endpoint.startswith("tcp://"):
        if endpoint.startswith(("ipc://", "inproc://")):
            return endpoint
        raise ValueError(f"endpoint {endpoint!r}: expected tcp://HOST:PORT")
    if open_to_network(endpoint) and not allow_network:
        raise ValueError(f"endpoint {endpoint!r} is reachable from the network; "
                         "binding beyond loopback must be asked for explicitly (allow_network)")
    return endpoint


def check_server_security(endpoint: str, allow_network: bool, keys: Any, insecure: bool) -> str:
    """An endpoint open to the network takes markers only from senders with a key, unless told otherwise."""
    check_endpoint(endpoint, allow_network)
    if open_to_network(endpoint) and keys is None and not insecure:
        raise ValueError(f"endpoint {endpoint!r} is open to the network, so senders must authenticate: "
                         "give a key folder (record: --markers-keys DIR, markers listen: --keys DIR; make "
                         "them with 'main.py keys make server') or accept anyone on the network explicitly "
                         "(--markers-no-auth, --no-auth)")
    return endpoint
