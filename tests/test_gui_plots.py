"""The live plots: every marker in view drawn, labels apart, traces decimated without losing a peak."""
from __future__ import annotations

import itertools

import numpy as np
import pylsl
import pytest

pytest.importorskip("pytestqt")

from acquisition.live import LiveHub, LiveStream
from acquisition.live_buffers import LiveMarker
from gui.plots import LivePlots, PeakHistory


@pytest.fixture
def plots(qtbot, unique):
    hub = LiveHub([f"name='{unique}-nothing'"])  # never started: the test fills the buffers itself
    widget = LivePlots(hub)
    widget.resize(1100, 700)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_every_marker_in_the_window_gets_a_line_and_no_labels_overlap(plots, qtbot):
    now = pylsl.local_clock()
    stamps = now - 29.5 + np.arange(60) * 0.49  # 60 markers, two a second, across the 30 s window
    plots.hub.markers.add([LiveMarker(float(t), f"face_onset {i}", "", "stim") for i, t in enumerate(stamps)])
    plots.redraw()
    for plot in plots.traces:
        if plot.isVisible():
            xs, _ = plot.markers.curve.getData()
            assert len(xs) == 2 * 60  # one vertical segment per marker, the oldest included
    shown = [label for label in plots.gsr.markers.labels if label.isVisible()]
    assert len(shown) >= 4
    assert plots.gsr.markers.placed[0][1] == "face_onset 59"  # the newest is always labelled
    for a, b in itertools.combinations(shown, 2):
        assert not a.sceneBoundingRect().intersects(b.sceneBoundingRect()), (a.toPlainText(), b.toPlainText())
    view = plots.gsr.getViewBox().sceneBoundingRect()
    for label in shown:
        assert view.contains(label.sceneBoundingRect())  # none cut off at the edges


class FakeStream(LiveStream):
    """A LiveStream fed by hand: the ring buffer and clock mapping are the real ones."""

    def __init__(self, name: str) -> None:
        info = pylsl.StreamInfo(name, "GSR", 1, 1000.0, pylsl.cf_float32, name)
        super().__init__(info)


def test_the_peak_history_equals_decimating_everything_at_once(unique):
    rng = np.random.default_rng(3)
    stream = FakeStream(unique)
    history = PeakHistory(["v"], lambda s, v: {"v": v[:, 0]})
    t0, rate, bin_s, window = 1000.0, 1000.0, 0.05, 5.0
    n = 0
    for chunk in rng.integers(5, 80, 200):  # uneven chunks, as an inlet delivers them
        stamps = t0 + (n + np.arange(chunk)) / rate
        values = rng.normal(size=(chunk, 1))
        values[rng.random(chunk) < 0.01] = np.nan  # a few dropouts
        stream.buffer.append(stamps, values)
        n += chunk
        now = float(stamps[-1])
        history.update(stream, bin_s, window, now)
    all_t, all_v = stream.window(window + bin_s, now)
    bins = np.floor(all_t / bin_s)
    for b in np.unique(bins)[1:]:  # the oldest bin may be cut by the window
        inside = all_v[bins == b, 0]
        i = int(np.flatnonzero(np.isclose(history.t, b * bin_s))[0])
        if np.isfinite(inside).all():
            assert history.low["v"][i] == inside.min() and history.high["v"][i] == inside.max()
        else:  # a dropout shows as a gap in its pixel column
            assert np.isnan(history.low["v"][i]) and np.isnan(history.high["v"][i])
    assert history.t[-1] <= now < history.t[-1] + bin_s
    assert history.t[0] >= now - window - 2 * bin_s  # nothing older than the window is kept
