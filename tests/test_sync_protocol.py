"""The marker-bus schema and the per-session ordering, without sockets."""
from __future__ import annotations

import json

import pytest

from sync.ordering import Sequencer
from sync.protocol import (
    MAX_MESSAGE_BYTES,
    Ack,
    MarkerMessage,
    Rejected,
    SyncReply,
    SyncRequest,
    check_endpoint,
    decode_client,
    decode_server,
    encode,
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
