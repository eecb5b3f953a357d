"""Eye-tracker layouts: real LSL outlets publishing each vendor's layout are recognised and mapped."""
from __future__ import annotations

import time

import numpy as np
import pylsl
import pytest

from configs import ConfigError
from devices.gaze_layouts import CANONICAL_LABELS, load_layouts, parse_layouts, recognise, recognise_header
from devices.metadata import Channel, stream_info

NAN = float("nan")


def labelled(name: str, type_: str, labels: list[str], fmt: str, source_id: str) -> pylsl.StreamInfo:
    return stream_info(name, type_, [Channel(label, "", "") for label in labels], 60.0, fmt, source_id,
                       manufacturer="test")


def published(info: pylsl.StreamInfo, rows: list[list[float]]) -> tuple[pylsl.StreamInfo, np.ndarray]:
    """Publish ``rows`` on a real outlet; return the inlet's full info and the samples it received."""
    outlet = pylsl.StreamOutlet(info)
    found = pylsl.resolve_byprop("source_id", info.source_id(), timeout=10.0)
    assert found, "the outlet is visible on loopback"
    inlet = pylsl.StreamInlet(found[0])
    inlet.open_stream(timeout=10.0)
    full = inlet.info(timeout=10.0)
    deadline = time.monotonic() + 10.0
    while inlet.samples_available() == 0 and time.monotonic() < deadline:
        outlet.push_chunk(rows)  # the first pushes may precede the connection: keep offering
        time.sleep(0.05)
    got: list[list[float]] = []
    while len(got) < len(rows) and time.monotonic() < deadline:
        chunk, _ = inlet.pull_chunk(timeout=0.5)
        got.extend(chunk)
    inlet.close_stream()
    del outlet
    return full, np.asarray(got[:len(rows)], dtype=float)


# One row per vendor: the stream as its LSL app publishes it, and where the gaze must land.
CASES = {
    "attune": (("SimEyeTracker", "Gaze", CANONICAL_LABELS, "float32"),
               [[0.25, 0.75, 3.5, 0.27, 0.75, 3.6, 1, 1], [NAN] * 6 + [0, 0]],
               [(0.26, 0.75), (NAN, NAN)]),
    "tobii_pro": (("Tobii", "Eyetracker", ["left_x", "left_y", "left_pupil", "right_x", "right_y", "right_pupil"],
                   "float32"),
                  [[0.2, 0.4, 3.1, 0.22, 0.4, 3.2], [NAN, NAN, NAN, 0.6, 0.3, 3.0]],
                  [(0.21, 0.4), (0.6, 0.3)]),
    "pupil_capture": (("pupil_capture", "Gaze",
                       ["confidence", "norm_pos_x", "norm_pos_y", "gaze_point_3d_x", "gaze_point_3d_y",
                        "gaze_point_3d_z", "diameter0_2d", "diameter1_2d", "diameter0_3d", "diameter1_3d"],
                       "double64"),
                      [[0.95, 0.3, 0.8, 0, 0, 500, 30, 31, 3.3, 3.4], [0.2, 0.5, 0.5, 0, 0, 500, 30, 31, 3.3, 3.4]],
                      [(0.3, 0.2), (NAN, NAN)]),  # y up -> down; low confidence is invalid
    "pupil_invisible": (("pupil_invisible", "Gaze", ["x", "y", "pi_timestamp"], "double64"),
                        [[544.0, 270.0, 1.7e9], [NAN, NAN, 1.7e9]],
                        [(0.5, 0.25), (NAN, NAN)]),
    "eyelink": (("EyeLink", "Gaze",
                 ["leftEyeX", "leftEyeY", "rightEyeX", "rightEyeY", "leftPupilArea", "rightPupilArea",
                  "pixelsPerDegreeX", "pixelsPerDegreeY", "eyelink_timestamp", "LSL_timestamp"], "double64"),
                [[960, 540, 980, 540, 900, 950, 40, 40, 1000, 1.0], [0, 0, 1920, 0, 0, 950, 40, 40, 1002, 1.0],
                 [-32768, -32768, -32768, -32768, 0, 0, 40, 40, 1004, 1.0]],
                [(0.5 + 10 / 1920, 0.5), (1.0, 0.0), (NAN, NAN)]),
    "gazepoint": (("GazepointEyeTracker", "gaze", ["FPOGX", "FPOGY", "FPOGS", "FPOGD", "FPOGID", "FPOGV"], "float32"),
                  [[0.1, 0.9, 12.0, 0.2, 5, 1], [0.5, 0.5, 12.2, 0.0, 6, 0]],
                  [(0.1, 0.9), (NAN, NAN)]),
}


@pytest.mark.parametrize("layout_name", list(CASES))
def test_each_vendor_layout_is_recognised_and_mapped_to_screen_gaze(layout_name, unique):
    (name, type_, labels, fmt), rows, expected = CASES[layout_name]
    full, samples = published(labelled(name, type_, labels, fmt, f"{unique}-{layout_name}"), rows)
    layout = recognise(full)
    assert layout is not None and layout.name == layout_name
    x, y = layout.canonical(samples).point()
    np.testing.assert_allclose(x, [e[0] for e in expected], atol=1e-5)
    np.testing.assert_allclose(y, [e[1] for e in expected], atol=1e-5)


def test_canonical_array_matches_the_simulated_column_order():
    layout = recognise_header("Tobii", "Eyetracker", 6, ["left_x", "left_y", "left_pupil", "right_x", "right_y",
                                                          "right_pupil"])
    out = layout.canonical(np.array([[0.2, 0.4, 3.1, NAN, NAN, NAN]])).as_array()
    np.testing.assert_allclose(out[0, [0, 1, 2, 6, 7]], [0.2, 0.4, 3.1, 1.0, 0.0])
    assert np.isnan(out[0, 3:6]).all()


def test_a_stream_without_channel_labels_matches_by_type_and_count(unique):
    info = pylsl.StreamInfo("Tobii", "Eyetracker", 6, 60.0, "float32", f"{unique}-bare")
    full, samples = published(info, [[0.1, 0.2, 3.0, 0.1, 0.2, 3.0]])
    layout = recognise(full)
    assert layout is not None and layout.name == "tobii_pro"
    np.testing.assert_allclose(layout.canonical(samples).point()[0], [0.1], atol=1e-6)


def test_streams_that_are_not_known_gaze_are_not_recognised(unique):
    assert recognise_header("SimGSR", "GSR", 1, ["skin_conductance"]) is None
    assert recognise_header("Tobii", "Eyetracker", 5, []) is None, "wrong channel count"
    assert recognise_header("x", "Gaze", 2, ["x", "y"]) is None, "x, y alone is ambiguous"
    info = pylsl.StreamInfo("Other", "EEG", 6, 60.0, "float32", f"{unique}-eeg")
    full, _ = published(info, [[0.0] * 6])
    assert recognise(full) is None


def test_shipped_layouts_name_their_source():
    specs = load_layouts()
    assert {s.name for s in specs} >= set(CASES)
    assert all(len(s.source) > 20 for s in specs)


@pytest.mark.parametrize("layouts, field", [
    ({"layouts": {"v": {"source": "s", "match": ["a", "b"], "left": {"x": "a"}, "right": {"x": "a", "y": "b"}}}},
     "layouts.v.left.y"),
    ({"layouts": {"v": {"source": "s", "match": ["a", "b"], "left": {"x": "a", "y": "c"},
                        "right": {"x": "a", "y": "b"}}}}, "layouts.v.left.y"),
    ({"layouts": {"v": {"source": "s", "match": ["a", "b"], "coordinates": "inches",
                        "left": {"x": "a", "y": "b"}, "right": {"x": "a", "y": "b"}}}}, "layouts.v.coordinates"),
    ({"layouts": {"v": {"source": "s", "match": ["a", "b"], "size": [0, 2],
                        "left": {"x": "a", "y": "b"}, "right": {"x": "a", "y": "b"}}}}, "layouts.v.size[0]"),
    ({"layouts": {"v": {"match": ["a", "b"], "left": {"x": "a", "y": "b"}, "right": {"x": "a", "y": "b"}}}},
     "layouts.v.source"),
])
def test_bad_layout_files_name_the_field(layouts, field):
    with pytest.raises(ConfigError) as err:
        parse_layouts(layouts, "gaze_layouts.yaml")
    assert err.value.field == field and "gaze_layouts.yaml" in str(err.value)
