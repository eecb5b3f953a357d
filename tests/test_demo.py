"""The README's main job, headless: a simulated visit is recorded as three sessions with their events."""
from __future__ import annotations

import csv
import json
import os

import pyxdf

from acquisition.naming import events_tsv_path
from tests.support import attune, free_port


def test_demo_records_pre_training_post_with_markers_and_events(tmp_path):
    # as on a server or CI machine: no display, and no Qt platform chosen by anyone
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = attune("demo", "--root", str(tmp_path), "--speed", "20",
                  "--markers", f"tcp://127.0.0.1:{free_port()}", env=env)
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, stderr[-3000:]
    assert "mean rating by morph level" in stdout
    assert "INFO|" not in stderr and "broke off" not in stderr, stderr[-3000:]  # a normal run looks normal

    files = sorted(tmp_path.rglob("*.xdf"))
    assert [f.parent.parent.name for f in files] == ["ses-post", "ses-pre", "ses-training"]
    for xdf in files:
        streams, _ = pyxdf.load_xdf(str(xdf))
        by_type = {s["info"]["type"][0]: s for s in streams}
        assert {"Gaze", "GSR", "VideoFrames", "FacialExpression", "Markers"} <= set(by_type)
        markers = [json.loads(v[0]) for v in by_type["Markers"]["time_series"]]
        assert [m["seq"] for m in markers] == sorted(m["seq"] for m in markers)
        tsv = events_tsv_path(xdf)
        with tsv.open(newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        faces = [m for m in markers if m["event"] == "face_onset"]
        assert len(faces) == sum(1 for r in rows if r["trial_type"] == "face") > 0

