"""Live view data: ring buffers, markers, derived traces and the hub on real LSL streams."""
from __future__ import annotations

import numpy as np
import pylsl

from acquisition.live import LiveHub
from acquisition.live_buffers import LiveMarker, MarkerBuffer, RingBuffer, parse_marker
from acquisition.live_status import LOST, MISSING, RECEIVING
from gui.plot_signals import TONIC_WINDOW, frame_rate, tonic_level


def test_ring_buffer_keeps_the_newest_samples_contiguously():
    ring = RingBuffer(2, 5)
    for start in range(0, 12, 3):
        stamps = np.arange(start, start + 3, dtype=float)
        ring.append(stamps, np.column_stack([stamps, -stamps]))
    stamps, values = ring.latest()
    assert list(stamps) == [7, 8, 9, 10, 11]
    assert list(values[:, 1]) == [-7, -8, -9, -10, -11]
    assert list(ring.since(9.5)[0]) == [10, 11]
    assert ring.total == 12
    ring.append(np.arange(100, 120, dtype=float), np.zeros((20, 2)))  # more than fits
    assert list(ring.latest()[0]) == [115, 116, 117, 118, 119]


def test_markers_parse_and_select_by_time():
    assert parse_marker('{"event":"face_onset","seq":3,"morph":0.5}') == ("face_onset", {"seq": 3, "morph": 0.5})
    assert parse_marker("sim_event 4") == ("sim_event 4", {})
    buf = MarkerBuffer(keep=3)
    buf.add([LiveMarker(float(t), f"m{t}", "", "s") for t in (5, 1, 3, 9)])
    assert buf.count == 4
    assert [m.label for m in buf.between(0, 6)] == ["m1", "m3"]  # stamp order; m5, the first to arrive, went
    assert [m.label for m in buf.after(3)] == ["m9"]


def test_tonic_level_ignores_responses_and_frame_rate_counts_frames():
    t = np.arange(0, 30, 1 / 128)
    level = 5 + 0.02 * t
    scr = np.where((t > 10) & (t < 13), 0.8, 0.0)
    centres, tonic = tonic_level(t, level + scr)
    at = np.searchsorted(centres, 12.0)
    assert abs(tonic[at] - (5 + 0.02 * 12)) < 0.1  # the response barely moves it
    quiet = (centres < 10 - TONIC_WINDOW / 2) | (centres > 13 + TONIC_WINDOW / 2)  # on the drift: no lag
    assert np.allclose(tonic[quiet], 5 + 0.02 * centres[quiet], atol=0.01)
    assert 30 - TONIC_WINDOW / 2 - 0.3 < centres[-1] <= 30 - TONIC_WINDOW / 2 + 0.3  # the stated delay
    frames = np.arange(0, 10, 1 / 30)
    _, fps = frame_rate(frames)
    assert np.allclose(fps[1:], 30, atol=2)
    ends, fps = frame_rate(frames + 0.013, 0.5, end=9.8)  # bins fixed on the clock: whole ones, closed by 9.8
    assert np.allclose(ends, np.arange(2, 20) * 0.5)
    assert np.allclose(fps, 30, atol=2)
    dropped = np.delete(frames, np.arange(150, 164))  # one frame in the half second from 5.0 s
    ends, fps = frame_rate(dropped, 0.5, end=10.0)
    assert fps[np.searchsorted(ends, 5.5)] < 5 and np.allclose(np.delete(fps, np.searchsorted(ends, 5.5)), 30, atol=2)


def test_hub_sees_a_stream_receive_and_go(unique):
    info = pylsl.StreamInfo(f"GSR{unique}", "GSR", 1, 100, pylsl.cf_float32, f"{unique}-gsr")
    outlet = pylsl.StreamOutlet(info)
    hub = LiveHub([f"contains(source_id,'{unique}')"], ["type='GSR'", "type='Gaze'"], forget_after=1.0)
    hub.start()
    try:
        start = pylsl.local_clock()

        def pushing(until):
            def check(h):
                now = pylsl.local_clock()
                outlet.push_chunk(np.full((5, 1), 3.0, dtype=np.float32).tolist(), now)
                return until(h)
            return check

        assert hub.wait_for(pushing(lambda h: any(r.status == RECEIVING for r in h.rows())), 8.0)
        rows = {r.name: r for r in hub.rows()}
        assert rows[f"GSR{unique}"].required
        assert rows["type='Gaze'"].status == MISSING and "type='GSR'" not in rows
        stream = hub.first_of_type("GSR")
        stamps, values = stream.window(10.0, pylsl.local_clock())
        assert len(stamps) > 0 and np.all(values == 3.0) and stamps[0] >= start - 1
        outlet = None  # closes the outlet
        assert hub.wait_for(lambda h: h.rows()[0].status == LOST, 8.0)
        assert "type='GSR'" in hub.missing
    finally:
        hub.stop()
