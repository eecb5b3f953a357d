"""The marker-bus schema and the per-session ordering, without sockets."""
from __future__ import annotations

import json

import pytest

from sync.ordering import Sequencer
from sync.protocol import (
    MAX_MESSAGE_BYTES,
    Ack,
    MarkerMessage,
    Refused,
    Rejected,
    SyncReply,
    SyncRequest,
    check_endpoint,
    check_server_security,
    decode_client,
    decode_server,
    encode,
    format_sample,
    parse_sample,
)


def marker(seq: int, floor: int = 1, **fields) -> MarkerMessage:
    return MarkerMessage("stim", "s1", seq, 100.0 + seq, "face_onset", fields, floor)


def test_messages_round_trip_through_one_frame():
    m = MarkerMessage("stim", "abc", 7, 12345.678901234, "response", {"value": 63.0, "rt": 1.234,
                                                                 "tags": ["a", 1], "ok": True}, 3)
    assert decode_client([encode(m)]) == m
    s = SyncRequest("stim", "abc", 4, 1.5, (3, 1.75))
    assert decode_client([encode(s)]) == s
    assert decode_server([encode(Ack("abc", 9))]) == Ack("abc", 9)
    r = SyncReply(4, 1.5, 2.0, 2.1, True)
    assert decode_server([encode(r)]) == r


def test_recorded_sample_is_compact_json_with_event_and_seq_first():
    text = marker(5, stimulus="id3_m05.png", morph=5).sample_text()
    assert text == '{"event":"face_onset","seq":5,"stimulus":"id3_m05.png","morph":5}'


def raw(**over) -> list[bytes]:
    obj = {"v": 1, "type": "marker", "sender": "stim", "session": "s1", "seq": 1, "floor": 1,
           "t": 1.0, "event": "trial_start", "fields": {}}
    obj.update(over)
    return [json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()]


@pytest.mark.parametrize("frames, reason", [
    ([b"x" * (MAX_MESSAGE_BYTES + 1)], "oversized"),
    (raw() + [b"{}"], "multipart"),
    ([b'{"v":1,"type":"marker","event":"\xff\xfe"}'], "not_utf8"),
    ([b'{"v":1,'], "not_json"),
    ([b"[1, 2, 3]"], "not_object"),
    (raw(v=2), "unknown_version"),
    (raw(v=True), "unknown_version"),
    (raw(type="hello"), "unknown_type"),
    (raw(seq=...), "missing_field"),
    (raw(colour="red"), "unknown_field"),
    (raw(seq="3"), "wrong_type"),
    (raw(seq=True), "wrong_type"),
    (raw(t="now"), "wrong_type"),
    (raw(fields=[1]), "wrong_type"),
    (raw(seq=0), "bad_value"),
    (raw(floor=5, seq=4), "bad_value"),
    (raw(event="face onset!"), "bad_value"),
    (raw(sender="a b"), "bad_value"),
    (raw(fields={"seq": 3}), "bad_value"),
    ([b'{"v":1,"type":"marker","t":NaN}'], "bad_value"),
])
def test_each_malformed_message_is_rejected_with_its_reason(frames, reason):
    with pytest.raises(Rejected) as info:
        decode_client(frames)
    assert info.value.reason == reason


def test_endpoint_beyond_loopback_must_be_asked_for():
    assert check_endpoint("tcp://127.0.0.1:5556", False)
    with pytest.raises(ValueError, match="allow_network"):
        check_endpoint("tcp://0.0.0.0:5556", False)
    assert check_endpoint("tcp://0.0.0.0:5556", True)


# -- ordering -------------------------------------------------------------

def seqs(markers: list[MarkerMessage]) -> list[int]:
    return [m.seq for m in markers]


def test_duplicates_are_dropped_and_early_arrivals_wait_for_the_gap():
    q = Sequencer(gap_timeout=1.0)
    assert seqs(q.offer(marker(1), 0).deliver) == [1]
    assert q.offer(marker(1), 0).duplicates == 1
    assert seqs(q.offer(marker(3), 0).deliver) == []
    assert q.offer(marker(3), 0).duplicates == 1
    assert seqs(q.offer(marker(2), 0).deliver) == [2, 3]
    assert q.through == 3


def test_a_gap_that_never_fills_is_reported_with_its_numbers():
    q = Sequencer(gap_timeout=1.0)
    q.offer(marker(1), 0.0)
    q.offer(marker(4), 0.0)
    q.offer(marker(6), 0.5)
    assert q.expire(0.9).deliver == []
    out = q.expire(1.6)
    assert out.lost == [(2, 3), (5, 5)] and seqs(out.deliver) == [4, 6]
    late = q.offer(marker(5), 2.0)
    assert seqs(late.deliver) == [5] and late.late == 1


def test_the_clients_floor_names_what_it_gave_up_at_once():
    q = Sequencer()
    q.offer(marker(1), 0)
    q.offer(marker(3), 0)  # held: 2 is still on its way
    out = q.offer(marker(5, floor=4), 0)  # the client gave up 2 (and holds 4)
    assert out.lost == [(2, 2)] and seqs(out.deliver) == [3]
    assert seqs(q.offer(marker(4, floor=4), 0).deliver) == [4, 5]


def test_a_restarted_server_starts_at_the_clients_floor():
    q = Sequencer()
    assert seqs(q.offer(marker(41, floor=40), 0).deliver) == []
    assert seqs(q.offer(marker(40, floor=40), 0).deliver) == [40, 41]
    assert q.through == 41


def test_a_huge_floor_jump_costs_nothing():
    q = Sequencer()
    q.offer(marker(1), 0)
    out = q.offer(marker(2**50, floor=2**50), 0)
    assert out.lost == [(2, 2**50 - 1)] and seqs(out.deliver) == [2**50]


# -- text that is not text --------------------------------------------------

@pytest.mark.parametrize("fields", [
    {"note": "\ud800"},  # a lone surrogate: valid JSON, not writable as UTF-8
    {"tags": ["ok", "a\udfffb"]},
    {"nested": {"\ud83d": 1}},  # as a key
])
def test_a_lone_surrogate_is_refused_at_the_door(fields):
    frame = json.dumps({"v": 1, "type": "marker", "sender": "stim", "session": "s1", "seq": 1, "floor": 1,
                        "t": 1.0, "event": "face_onset", "fields": fields}).encode()  # ASCII \\ud800 escapes
    with pytest.raises(Rejected) as err:
        decode_client([frame])
    assert err.value.reason == "not_utf8" and "surrogate" in err.value.detail


def test_a_refusal_round_trips_with_its_reason():
    msg = Refused("s1", "too_many_senders", "at most 2")
    assert decode_server([encode(msg)]) == msg
    bad = json.dumps({"v": 1, "type": "refused", "session": "s1", "reason": "because", "detail": ""}).encode()
    with pytest.raises(Rejected, match="not a known reason"):
        decode_server([bad])


# -- the recorded sample: one writer, one reader ---------------------------------

def test_recorded_sample_parses_back_to_what_was_sent():
    text = format_sample("face_onset", 3, {"morph": 0.5, "file": "id3.png", "rect": [0, 1]})
    got = parse_sample(text)
    assert (got.event, got.seq, got.fields) == ("face_onset", 3, {"morph": 0.5, "file": "id3.png", "rect": [0, 1]})
    assert got.as_dict() == json.loads(text)
    assert parse_sample(text.encode()) == got


@pytest.mark.parametrize("text", [
    "sim_event 4", "", "{not json", "[1, 2]", '{"label": "x"}', '{"event": 3}', '{"event": ""}',
    '{"event": "x", "v": NaN}', "{" * 100_000, '{"event": "x", "pad": "' + "y" * 70_000 + '"}',
])
def test_anything_else_is_not_an_attune_marker(text):
    assert parse_sample(text) is None


def test_reserved_names_never_come_back_as_fields():
    got = parse_sample('{"event": "x", "seq": "7", "timestamp": 1, "k": 2}')
    assert got.seq is None and got.fields == {"k": 2}


def test_an_endpoint_open_to_the_network_needs_keys_or_an_explicit_no():
    assert check_server_security("tcp://127.0.0.1:5556", False, None, False)
    with pytest.raises(ValueError, match="--markers-keys"):
        check_server_security("tcp://0.0.0.0:5556", True, None, False)
    assert check_server_security("tcp://0.0.0.0:5556", True, object(), False)
    assert check_server_security("tcp://0.0.0.0:5556", True, None, True)


# -- sparse numbering: bounded memory and work ------------------------------------

def test_sparse_numbering_holds_a_bounded_number_per_session():
    q = Sequencer(gap_timeout=1.0)  # the default bound
    delivered, lost = [], []
    for i in range(1, 30_001):
        out = q.offer(marker(2 * i), 0.0)  # 2, 4, 6, ...: every odd seq missing
        delivered += seqs(out.deliver)
        lost += out.lost
        assert q.held <= q.max_held
    assert q.max_held <= 10_000
    out = q.expire(5.0)
    delivered += seqs(out.deliver)
    lost += out.lost
    assert delivered == list(range(2, 60_001, 2)) and q.held == 0
    assert lost == [(s, s) for s in range(1, 60_000, 2)]


def test_expiry_delivers_everything_that_waited_in_one_pass():
    q = Sequencer(gap_timeout=1.0, max_held=100_000)
    for i in range(1, 5_001):
        q.offer(marker(2 * i), i * 1e-4)  # arrivals 0.0001 ... 0.5 s
    out = q.expire(1.25)  # those that arrived by 0.25 s have waited long enough
    assert seqs(out.deliver) == list(range(2, 5_002, 2)) and len(out.lost) == 2_500
    assert q.held == 2_500 and q.through == 5_000
    assert seqs(q.expire(2.0).deliver) == list(range(5_002, 10_001, 2)) and q.held == 0


# -- one home for the contract --------------------------------------------------

def _product_modules():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/**/*.py")):
        if path.parts[len(root.parts)] in ("tests", "bench", "tools", ".venv", "build") or "node_modules" in path.parts:
            continue
        yield path.relative_to(root).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def test_the_default_endpoint_and_the_marker_names_have_one_home():
    import ast

    from sync.protocol import DEFAULT_ENDPOINT

    literal, vague = [], []
    for name, tree in _product_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value == DEFAULT_ENDPOINT and name != "sync/protocol.py":
                literal.append(f"{name}:{node.lineno}")
            if isinstance(node, ast.ClassDef) and node.name in ("Marker", "MarkerSink"):
                vague.append(f"{name}:{node.lineno} class {node.name}")
    assert literal == [], "import sync.protocol.DEFAULT_ENDPOINT instead"
    assert vague == [], "name what the class is"
