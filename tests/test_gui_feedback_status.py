"""The panel's live-feedback line, fed the markers a training with feedback sends."""
from __future__ import annotations

import json

from acquisition.live_buffers import LiveMarker, parse_marker
from gui.feedback_status import FeedbackStatus
from gui.style import BANNER_OK, BANNER_WARN


def marker(event: str, **fields) -> LiveMarker:
    label, parsed = parse_marker(json.dumps({"event": event, "seq": 1, **fields}))
    return LiveMarker(0.0, label, "", "AttuneMarkers", parsed)


def test_feedback_state_follows_the_markers(qtbot):
    box = FeedbackStatus()
    qtbot.addWidget(box)
    box.take(marker("face_onset", trial=1))
    assert not box.isVisibleTo(None) and box.text() == ""  # no feedback in this run (yet)
    box.take(marker("feedback_check", gaze="ok", expression="ok", gsr="missing", details=""))
    assert "gaze ✓" in box.plain and "gsr missing" in box.plain
    box.take(marker("feedback_cue_on", block="b", trial=3, regions=["eyes", "mouth"]))
    assert "cue shown on the eyes and mouth (trial 3)" in box.plain
    box.take(marker("feedback_cue_off", block="b", trial=3, region="eyes", reason="looked"))
    assert "looked at the eyes after the cue" in box.plain
    box.take(marker("feedback_mirroring", block="b", trial=4, smile=0.5))
    box.take(marker("feedback_face", block="b", trial=4, mirroring_face=True, mirrored=True))
    assert "mirroring detected on 1 of 1 happy faces" in box.plain
    assert box.styleSheet() == BANNER_OK
    box.take(marker("feedback_paused", feed="gaze", stream="Eye", reason="no samples for 0.6 s"))
    assert "gaze paused (no samples for 0.6 s)" in box.plain and box.styleSheet() == BANNER_WARN
    box.take(marker("feedback_resumed", feed="gaze", stream="Eye"))
    assert "gaze ✓" in box.plain and box.styleSheet() == BANNER_OK
    box.take(marker("feedback_calm_on", trial=5))
    assert "breathing cue shown" in box.plain
    box.take(marker("feedback_calm_off", reason="done"))
    assert "breathing cue" not in box.plain
