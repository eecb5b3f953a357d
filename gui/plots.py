"""Live plots: GSR with its tonic level, gaze, pupil, webcam rate and expression, markers on every trace.

Everything is drawn from the hub's ring buffers on the panel's redraw
timer; no plot ever touches LSL. Time runs along x as seconds before now
(``-window .. 0``) so the traces scroll and all rows share one axis.
Curves keep their items and only get ``setData`` with at most one min/max
pair per pixel column, and each frame decimates only the samples that
arrived since the last (``PeakHistory``), so a 1200 Hz eye tracker costs
about what a slow stream costs. All markers in view are one item of dashed
lines per trace, set each frame like a curve.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pylsl
import pyqtgraph as pg
from PyQt6.QtGui import QFontMetricsF
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from acquisition.live import LiveHub, LiveStream
from acquisition.live_buffers import LiveMarker
from devices.gaze_layouts import GazeLayout, recognise_header
from gui.plot_signals import TONIC_WINDOW, frame_rate, tonic_level
from gui.style import BLUE, GREEN, GREY, INK, MARKER, ORANGE, PURPLE, SKY

MAX_LABELS = 40  # marker labels on the GSR plot at most (lines: every marker in the window)
LABEL_ROWS = 2  # marker labels sit in two staggered rows at the top of the GSR plot
LABEL_PAD = 6  # pixels kept free between two labels in a row
LATE_SECONDS = 1.0  # decimated bins this recent are recomputed each frame (chunks arrive late)
PAIRS_PER_PIXEL = 0.5  # peak decimation: a min/max pair per two pixel columns keeps every peak visible
TONIC_LABEL = f"tonic level ({TONIC_WINDOW:g} s median, known up to {TONIC_WINDOW / 2:g} s ago)"
TONIC_EVERY = 0.5  # seconds between tonic-level updates (a slow median need not run at 30 Hz)
FPS_BIN = 0.5  # seconds per webcam frame-rate bin (a dropped frame or two shows as a dip)
GAZE_TRAIL = 0.5  # seconds of gaze path drawn behind the current point

pg.setConfigOptions(antialias=False, background="w", foreground=INK)


def light_view(view: pg.PlotWidget) -> None:
    """A plot whose items all change every frame: repaint it whole, keep no item index.

    Qt's default works out the dirty region item by item, asking every item
    (in Python) for its bounding rectangle several times a frame; a scrolling
    plot is dirty everywhere anyway.
    """
    view.setViewportUpdateMode(pg.QtWidgets.QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
    view.scene().setItemIndexMethod(pg.QtWidgets.QGraphicsScene.ItemIndexMethod.NoIndex)
    flags = pg.QtWidgets.QGraphicsView.OptimizationFlag
    view.setOptimizationFlag(flags.DontAdjustForAntialiasing, True)  # antialiasing is off


def cached(item: pg.QtWidgets.QGraphicsItem) -> None:
    """Paint an item from a pixmap kept in device pixels: text is laid out and shaped only when it changes.

    The plot views repaint whole every frame, and without a cache every title,
    axis label, legend entry and marker label is re-shaped by Qt's text engine
    each time (the profile's largest share after the curves). The pixmap
    survives moves; a new text or scale renders it again.
    """
    item.setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


def cache_texts(plot: pg.PlotItem) -> None:
    """Cache the title, the axis labels and the legend entries of a plot (see ``cached``)."""
    cached(plot.titleLabel.item)
    for name in ("left", "bottom"):
        cached(plot.getAxis(name).label)
    legend = plot.legend
    if legend is not None:
        for _, label in legend.items:
            cached(label.item)


def columns(stream: LiveStream, *names: str) -> list[int]:
    """Indices of channels by label, e.g. left_x, right_x (missing labels are skipped)."""
    return [stream.labels.index(n) for n in names if n in stream.labels]


def channel(stream: LiveStream, values: np.ndarray, label: str, fallback: int | None = None) -> np.ndarray:
    """One channel by label (or by position ``fallback``); NaN when the stream has no such channel."""
    idx = columns(stream, label)
    col = idx[0] if idx else fallback
    if col is None or col >= values.shape[1]:
        return np.full(len(values), np.nan)
    return values[:, col]


_LAYOUTS: dict[tuple, GazeLayout | None] = {}


def gaze_layout(stream: LiveStream) -> GazeLayout | None:
    """The eye-tracker layout of a live stream (Tobii, Pupil, EyeLink, Gazepoint, Attune), if it has one.

    Remembered per header: the plots ask for every stream on every frame, and
    recognising one reads the layout table.
    """
    if stream.is_string:
        return None
    key = (stream.name, stream.type, stream.channel_count, tuple(stream.labels))
    if key not in _LAYOUTS:
        if len(_LAYOUTS) > 256:
            _LAYOUTS.clear()
        _LAYOUTS[key] = recognise_header(stream.name, stream.type, stream.channel_count, stream.labels)
    return _LAYOUTS[key]


def eye_signals(stream: LiveStream, values: np.ndarray) -> dict[str, np.ndarray]:
    """Screen gaze x, y and the two pupils, whatever the tracker's own layout."""
    layout = gaze_layout(stream)
    if layout is None:
        nan = np.full(len(values), np.nan)
        return {"x": nan, "y": nan, "left": nan, "right": nan}
    gaze = layout.canonical(values)
    x, y = gaze.point()
    return {"x": x, "y": y, "left": gaze.left_pupil, "right": gaze.right_pupil}


class PeakHistory:
    """Peak-decimated signals of one stream, kept from frame to frame.

    Bins are fixed on the clock, so a closed bin never changes: each frame
    only the samples since the start of the newest (open) bin are read and
    decimated, whatever the stream's rate and the window's length. ``signals``
    turns a block of samples into the named signals (a channel, screen gaze).
    """

    def __init__(self, names: list[str], signals: Callable[[LiveStream, np.ndarray], dict[str, np.ndarray]]) -> None:
        self.names = names
        self.signals = signals
        self._key: tuple | None = None
        self._due: tuple | None = None
        self.t = np.zeros(0)
        self.low = {name: np.zeros(0) for name in names}
        self.high = {name: np.zeros(0) for name in names}

    def update_if_due(self, stream: LiveStream, bin_seconds: float, window: float, now: float) -> bool:
        """Update once per bin of the clock (or when the stream or the bins change); True if it did.

        Between two updates a plot only moves its curves along: the newest
        samples appear at the latest one bin late (one pixel column's time).
        """
        due = (math.floor(now / bin_seconds), stream.key, id(stream), bin_seconds, stream.offset)
        if due == self._due and len(self.t):
            return False
        self._due = due
        self.update(stream, bin_seconds, window, now)
        return True

    def update(self, stream: LiveStream, bin_seconds: float, window: float, now: float) -> None:
        key = (stream.key, id(stream), bin_seconds, stream.offset)
        if key != self._key or not len(self.t):
            self._key = key
            stamps, values = stream.window(window + bin_seconds, now)
            kept = np.zeros(len(self.t), dtype=bool)
        else:  # the open bin, and the last second's bins again: samples may arrive a little late
            kept = self.t < self.t[-1] - LATE_SECONDS
            stamps, values = stream.window(now - self.t[~kept][0], now)
        if len(stamps):
            bins = np.floor(stamps / bin_seconds)
            starts = np.flatnonzero(np.concatenate(([True], bins[1:] != bins[:-1])))
            self.t = np.concatenate((self.t[kept], bins[starts] * bin_seconds))
            signals = self.signals(stream, values)
            for name in self.names:
                signal = signals[name]
                with np.errstate(invalid="ignore"):  # a lost sample (NaN) makes its bin a gap, as it would be
                    self.low[name] = np.concatenate((self.low[name][kept], np.minimum.reduceat(signal, starts)))
                    self.high[name] = np.concatenate((self.high[name][kept], np.maximum.reduceat(signal, starts)))
        old = self.t < now - window - bin_seconds
        if old.any():
            self.t = self.t[~old]
            for name in self.names:
                self.low[name], self.high[name] = self.low[name][~old], self.high[name][~old]

    def bounds(self, *names: str) -> tuple[float, float]:
        """Lowest and highest value of these signals in the window (NaN when there are none)."""
        lows = [self.low[n] for n in names if np.isfinite(self.low[n]).any()]
        highs = [self.high[n] for n in names if np.isfinite(self.high[n]).any()]
        if not lows or not highs:
            return float("nan"), float("nan")
        return float(min(np.nanmin(v) for v in lows)), float(max(np.nanmax(v) for v in highs))

    def trace(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(stamps, values) of one signal: a min and a max per bin."""
        return np.repeat(self.t, 2), np.column_stack((self.low[name], self.high[name])).ravel()


class MarkerLines:
    """Every marker in the window as one dashed item, plus (on one plot) labels that never overlap.

    All lines are one curve of vertical segments, so a busy task costs one
    ``setData`` per frame, not one item per marker. Labels are a pool of
    text items placed newest first, each to the left of its line, in the
    first row where it fits; a label with no room is left out (the marker
    log has it).
    """

    def __init__(self, plot: pg.PlotItem, labels: bool) -> None:
        self.plot = plot
        colour = pg.mkColor(MARKER)
        colour.setAlpha(170)  # solid and light: a dash pattern costs the painter a stroke per dash
        self.curve = pg.PlotCurveItem(pen=pg.mkPen(colour, width=1), connect="pairs")
        self.curve.setZValue(5)
        plot.addItem(self.curve, ignoreBounds=True)
        self.with_labels = labels
        self.labels: list[pg.TextItem] = []
        self._widths: dict[str, float] = {}
        self.placed: list[tuple[float, str, int]] = []  # (x, text, row) of the labels shown, for tests
        self._drawn: tuple = ()

    def show(self, stamps: np.ndarray, texts: list[str], now: float) -> None:
        """Draw lines at ``stamps`` (sorted; seconds before ``now`` on the plot) and label them where there is room.

        The curve holds the stamps themselves and is shifted by ``-now``: new
        data only when the markers or the y range change, a move otherwise.
        """
        (x0, x1), (y0, y1) = self.plot.viewRange()
        span = y1 - y0
        key = (len(stamps), float(stamps[0]) if len(stamps) else 0.0, float(stamps[-1]) if len(stamps) else 0.0, y0, y1)
        if key != self._drawn:
            self._drawn = key
            self.curve.setData(np.repeat(stamps, 2), np.tile([y0 - span, y1 + span], len(stamps)))
        self.curve.setPos(-now, 0)
        if self.with_labels:
            self._place_labels(stamps - now, texts, x0, x1, y0, y1)

    def _place_labels(self, xs: np.ndarray, texts: list[str], x0: float, x1: float, y0: float, y1: float) -> None:
        per_pixel, per_pixel_y = self.plot.getViewBox().viewPixelSize()
        row_height = self._label(0).textItem.boundingRect().height() + 2  # pixels; rows stack down from the top
        free_left = [x1] * LABEL_ROWS  # each row is filled from the right (newest) to the left
        placed = []
        for x, text in zip(xs[::-1], texts[::-1]):
            if len(placed) == MAX_LABELS or x > x1:
                continue
            width = (self._width(text) + LABEL_PAD) * per_pixel
            row = next((r for r in range(LABEL_ROWS) if x <= free_left[r] and x - width >= x0), None)
            if row is None:
                continue
            free_left[row] = x - width
            placed.append((float(x), text, row))
        for i, (x, text, row) in enumerate(placed):
            label = self._label(i)
            if label.toPlainText() != text:
                label.setText(text)
            label.setPos(x, y1 - (row + 0.5) * row_height * per_pixel_y - 2 * per_pixel_y)
            if not label.isVisible():
                label.setVisible(True)
        for label in self.labels[len(placed):]:
            if label.isVisible():
                label.setVisible(False)
        self.placed = placed

    def _label(self, i: int) -> pg.TextItem:
        while len(self.labels) <= i:
            label = pg.TextItem("", color=MARKER, anchor=(1, 0.5), fill=pg.mkBrush(255, 255, 255, 210))
            label.setZValue(6)
            cached(label.textItem)
            self.plot.addItem(label, ignoreBounds=True)
            self.labels.append(label)
        return self.labels[i]

    def _width(self, text: str) -> float:
        """Pixel width of a label (measured once per text)."""
        width = self._widths.get(text)
        if width is None:
            probe = self._label(0).textItem
            margin = 2 * probe.document().documentMargin()
            width = self._widths[text] = QFontMetricsF(probe.font()).horizontalAdvance(text) + margin
            if len(self._widths) > 2000:
                self._widths.clear()
        return width


class TracePlot(pg.PlotItem):
    """One scrolling row: named curves against seconds-before-now, with marker lines.

    A plot item, not a widget: all rows share one graphics view (``LivePlots``),
    so a frame is one paint of one view instead of one per row.
    """

    def __init__(self, title: str, unit: str, marker_labels: bool = False) -> None:
        super().__init__()
        self.setMinimumHeight(90)
        item = self
        item.setTitle(f"<span style='color:{INK}; font-size:10pt'><b>{title}</b></span>")
        item.setLabel("left", unit)
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        item.hideButtons()
        item.getAxis("left").setWidth(52)
        for name in ("left", "bottom"):  # an axis is redrawn from a cached pixmap unless its range moves
            item.getAxis(name).setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.getViewBox().setMouseEnabled(x=False, y=False)
        self.legend = None
        self.markers = MarkerLines(item, marker_labels)
        self.note = pg.TextItem("", color=GREY, anchor=(0.5, 0.5))
        self.note.setZValue(10)
        cached(self.note.textItem)
        item.addItem(self.note, ignoreBounds=True)

    def getPlotItem(self) -> TracePlot:  # the name PlotWidget gives it: callers work with both
        return self

    def curve(self, name: str, colour: str, width: float = 1.0, legend: bool = False,
              legend_at: tuple[int, int] = (4, 2)) -> pg.PlotCurveItem:
        """A bare curve item: the data come decimated and in view (LivePlots.trace), so none of
        PlotDataItem's per-call processing (clipping, downsampling, symbols) is needed."""
        if legend and self.legend is None:  # a negative offset counts from the bottom
            self.legend = self.getPlotItem().addLegend(offset=legend_at, labelTextColor=INK, colCount=3,
                                                       brush=pg.mkBrush(255, 255, 255, 200))
        c = pg.PlotCurveItem(pen=pg.mkPen(colour, width=width), name=name if legend else None)
        self.getPlotItem().addItem(c)
        cache_texts(self.getPlotItem())  # the new legend entry too
        return c

    def follow(self, low: float, high: float) -> None:
        """Keep the y range around [low, high], changing it only when the data leave it or shrink
        to under half of it: pyqtgraph's autorange moves every frame, and each move redraws the axis."""
        if not (np.isfinite(low) and np.isfinite(high)):
            return
        y0, y1 = self.getPlotItem().viewRange()[1]
        if y0 <= low and high <= y1 and (high - low) >= 0.5 * (y1 - y0):
            return
        pad = max(0.15 * (high - low), 1e-3 * max(abs(high), 1.0))
        self.setYRange(low - pad, high + pad, padding=0)

    def set_note(self, text: str, window: float) -> None:
        """A quiet line in the middle of an empty plot ("no GSR stream")."""
        if self.note.toPlainText() != text:
            self.note.setText(text)
        if text:
            y0, y1 = self.getPlotItem().viewRange()[1]
            self.note.setPos(-window / 2, (y0 + y1) / 2)


class GazeView(pg.PlotWidget):
    """The screen as a rectangle (0..1, origin top-left) with the current gaze point and its trail."""

    def __init__(self) -> None:
        super().__init__()
        light_view(self)
        item = self.getPlotItem()
        item.setTitle(f"<span style='color:{INK}; font-size:10pt'><b>Gaze on screen</b></span>")
        item.setMenuEnabled(False)
        item.hideButtons()
        item.hideAxis("left")
        item.hideAxis("bottom")
        self.setMouseEnabled(x=False, y=False)
        self.setAspectLocked(True)
        self.setXRange(-0.05, 1.05, padding=0)
        self.setYRange(-0.05, 1.05, padding=0)
        self.getViewBox().invertY(True)
        screen = pg.QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        screen.setPen(pg.mkPen(GREY, width=2))
        screen.setBrush(pg.mkBrush("#F4F6F8"))
        cached(screen)  # the screen and its centre never change: painted from a pixmap
        item.addItem(screen)
        centre = pg.ScatterPlotItem([0.5], [0.5], symbol="+", size=14, pen=pg.mkPen(GREY), brush=None)
        cached(centre)
        item.addItem(centre)
        self.trail = pg.PlotCurveItem(pen=pg.mkPen(SKY, width=1.5))
        item.addItem(self.trail)
        # a plain item moved each frame (a scatter plot rebuilds itself on every setData)
        self.point = pg.QtWidgets.QGraphicsEllipseItem(-8, -8, 16, 16)
        self.point.setFlag(pg.QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.point.setPen(pg.mkPen("w", width=2))
        self.point.setBrush(pg.mkBrush(BLUE))
        self.point.setZValue(3)
        self.point.setVisible(False)
        item.addItem(self.point)
        self.status = pg.TextItem("", color=GREY, anchor=(0.5, 0))
        self.status.setPos(0.5, 1.0)
        cached(self.status.textItem)
        cache_texts(item)
        item.addItem(self.status)

    def show_gaze(self, x: np.ndarray, y: np.ndarray) -> None:
        ok = np.isfinite(x) & np.isfinite(y)
        self.trail.setData(x[ok], y[ok])
        seen = bool(len(x) and ok[-1])
        if seen:
            self.point.setPos(float(x[-1]), float(y[-1]))
        if self.point.isVisible() != seen:
            self.point.setVisible(seen)
        status = "" if seen else "no valid gaze (blink or off screen)" if len(x) else "no gaze stream"
        if self.status.toPlainText() != status:
            self.status.setText(status)


class LivePlots(QWidget):
    """All traces for one hub; ``redraw()`` is called by the panel's frame timer."""

    def __init__(self, hub: LiveHub, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hub = hub
        self.window = 30.0
        self.paused = False
        self.frozen_at: float | None = None
        self._tonic_at = 0.0
        self._tonic = (np.zeros(0), np.zeros(0))
        self._valid_at = 0.0
        self._fps_top = 0.0
        self._fps_due: tuple | None = None
        self._gsr = PeakHistory(["gsr"], lambda s, v: {"gsr": v[:, 0]})
        self._eyes = PeakHistory(["x", "y", "left", "right"], eye_signals)
        self._expression = PeakHistory(["smile", "valence"],
                                       lambda s, v: {"smile": channel(s, v, "smile", 0),
                                                     "valence": channel(s, v, "valence", 1)})

        self.gsr = TracePlot("Skin conductance (GSR)", "µS", marker_labels=True)
        self.gsr_curve = self.gsr.curve("GSR", BLUE, legend=True, legend_at=(4, -2))  # labels use the top
        self.tonic_curve = self.gsr.curve(TONIC_LABEL, ORANGE, width=2.0, legend=True)
        self.gaze_xy = TracePlot("Gaze position", "screen 0..1")
        self.gaze_x = self.gaze_xy.curve("x", BLUE, legend=True)
        self.gaze_y = self.gaze_xy.curve("y", GREEN, legend=True)
        self.gaze_xy.setYRange(-0.05, 1.25, padding=0)  # headroom for the legend
        self.pupil = TracePlot("Pupil diameter", "mm")
        self.pupil_l = self.pupil.curve("left", PURPLE, legend=True)
        self.pupil_r = self.pupil.curve("right", SKY, legend=True)
        self.webcam = TracePlot("Webcam frame rate", "frames/s")
        self.fps_curve = self.webcam.curve("frame rate", GREY, width=2)
        self.expression = TracePlot("Facial expression", "score")
        self.smile_curve = self.expression.curve("smile", GREEN, legend=True)
        self.valence_curve = self.expression.curve("valence", ORANGE, legend=True)
        self.expression.setYRange(-1.05, 1.05, padding=0)
        self.traces = [self.gsr, self.gaze_xy, self.pupil, self.webcam, self.expression]
        for plot in self.traces:
            plot.setXRange(-self.window, 0, padding=0)
            if plot is not self.gsr:
                plot.setXLink(self.gsr)
        for plot in self.traces[:-1]:
            plot.getPlotItem().getAxis("bottom").setStyle(showValues=False)
        self.expression.setLabel("bottom", "seconds before now")
        for plot in self.traces:
            cache_texts(plot.getPlotItem())
        self.gaze = GazeView()
        self.gaze.setMinimumWidth(220)

        self.view = pg.GraphicsLayoutWidget()  # one view for every row: one paint per frame
        light_view(self.view)
        rows = self.view.ci
        rows.setContentsMargins(0, 0, 0, 0)
        rows.layout.setVerticalSpacing(2)
        for row, (plot, stretch) in enumerate(zip(self.traces, (3, 2, 2, 1, 2))):
            rows.addItem(plot, row=row, col=0)
            rows.layout.setRowStretchFactor(row, stretch)
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.view)
        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.gaze, 3)
        self.gaze_info = QLabel("")
        self.gaze_info.setWordWrap(True)
        self.gaze_info.setStyleSheet(f"color:{GREY};")
        right.addWidget(self.gaze_info)
        right.addStretch(2)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(left, 4)
        row.addLayout(right, 1)
        self.frames = 0

    # -- controls ------------------------------------------------------------
    def set_window(self, seconds: float) -> None:
        self.window = float(seconds)
        self.gsr.setXRange(-self.window, 0, padding=0)

    def set_paused(self, paused: bool) -> None:
        """Pause freezes the picture; the buffers (and any recording) keep going."""
        self.paused = paused
        self.frozen_at = pylsl.local_clock() if paused else None

    # -- drawing ---------------------------------------------------------------
    def redraw(self) -> None:
        if self.paused and self.frames:
            return
        now = self.frozen_at or pylsl.local_clock()
        self._markers(now)
        self._draw_gsr(now)
        self._draw_gaze(now)
        self._draw_webcam(now)
        self.frames += 1

    def bin_seconds(self) -> float:
        """Decimation bin: the time one pixel column of the plots shows."""
        return self.window / (max(100.0, self.gsr.getViewBox().width()) * PAIRS_PER_PIXEL)

    def follow(self, history: PeakHistory, stream: LiveStream, now: float,
               curves: list[tuple[pg.PlotCurveItem, str]], connect: str = "all") -> bool:
        """Keep curves on a stream's decimated signals: new data once per bin, otherwise only moved.

        Curves hold the stamps themselves and are shifted by ``-now`` (seconds
        before now on the axis), so a frame without a new bin costs a move.
        """
        fresh = history.update_if_due(stream, self.bin_seconds(), self.window, now)
        for curve, name in curves:
            if fresh:
                t, y = history.trace(name)
                curve.setData(t, y, connect=connect)
            curve.setPos(-now, 0)
        return fresh

    def _markers(self, now: float) -> None:
        # Positions move with time, so they are recomputed each frame (only markers in the window).
        found: list[LiveMarker] = self.hub.markers.between(now - self.window, now + 1.0)
        stamps = np.array([m.stamp for m in found])
        texts = [m.label for m in found]
        for plot in self.traces:
            if plot.isVisible():
                plot.markers.show(stamps, texts, now)

    def _draw_gsr(self, now: float) -> None:
        stream = self.hub.first_of_type("GSR")
        if stream is None:
            self.gsr_curve.setData([], [])
            self.tonic_curve.setData([], [])
            self.gsr.set_note("no GSR stream", self.window)
            return
        if self.follow(self._gsr, stream, now, [(self.gsr_curve, "gsr")]):
            self.gsr.set_note("" if len(self._gsr.t) else f"{stream.name}: no data", self.window)
            self.gsr.follow(*self._gsr.bounds("gsr"))
        if now - self._tonic_at >= TONIC_EVERY or self.paused:
            self._tonic_at = now
            long_stamps, long_values = stream.window(self.window + TONIC_WINDOW, now)
            self._tonic = tonic_level(long_stamps, long_values[:, 0])
            self.tonic_curve.setData(*self._tonic)
        self.tonic_curve.setPos(-now, 0)

    def _draw_gaze(self, now: float) -> None:
        stream = self.hub.first_where(lambda s: gaze_layout(s) is not None)
        layout = gaze_layout(stream) if stream is not None else None
        if stream is None or layout is None:
            for c in (self.gaze_x, self.gaze_y, self.pupil_l, self.pupil_r):
                c.setData([], [])
            self.gaze_xy.set_note("no eye tracker stream", self.window)
            self.pupil.set_note("no eye tracker stream", self.window)
            self.gaze.show_gaze(np.zeros(0), np.zeros(0))
            self.gaze_info.setText("")
            return
        self.gaze_xy.set_note("", self.window)
        self.pupil.set_note("", self.window)
        curves = [(self.gaze_x, "x"), (self.gaze_y, "y"), (self.pupil_l, "left"), (self.pupil_r, "right")]
        if self.follow(self._eyes, stream, now, curves, connect="finite"):
            self.pupil.follow(*self._eyes.bounds("left", "right"))
        _, values = stream.window(GAZE_TRAIL, now)
        trail = eye_signals(stream, values)
        self.gaze.show_gaze(trail["x"], trail["y"])
        if now - self._valid_at >= TONIC_EVERY or self.paused:  # a share of the window: 2 Hz is plenty
            self._valid_at = now
            _, values = stream.window(self.window, now)
            if len(values):
                valid = np.isfinite(eye_signals(stream, values)["x"])
                self.gaze_info.setText(f"{stream.name} ({layout.name} layout): {100 * valid.mean():.0f} % valid "
                                       "gaze in the window")

    def show_expression(self, shown: bool) -> None:
        """Show or hide the expression row; a hidden row leaves the layout so the others take its room."""
        grid = self.view.ci.layout
        laid_out = any(grid.itemAt(i) is self.expression for i in range(grid.count()))
        if shown and not laid_out:
            grid.addItem(self.expression, len(self.traces) - 1, 0)
        elif not shown and laid_out:
            grid.removeItem(self.expression)
        self.expression.setVisible(shown)

    def _draw_webcam(self, now: float) -> None:
        frames = self.hub.first_of_type("VideoFrames")
        if frames is None:
            self._fps_due = None
            self.fps_curve.setData([], [])
            self.webcam.set_note("no webcam stream", self.window)
        else:
            due = (math.floor(now / FPS_BIN), frames.key, id(frames), self.window)
            if due != self._fps_due:  # bins fixed on the clock: new data once per bin, a move otherwise
                self._fps_due = due
                stamps, _ = frames.window(self.window + FPS_BIN, now)
                t, fps = frame_rate(stamps, FPS_BIN, end=now - FPS_BIN)  # frames can arrive late: not the newest bin
                self.fps_curve.setData(t, fps)
                self.webcam.set_note("" if len(stamps) else f"{frames.name}: no frames", self.window)
                top = max(frames.nominal_srate * 1.25, float(fps.max()) * 1.1 if len(fps) else 1.0, 1.0)
                if top != self._fps_top:  # a range change re-lays the axis: only when it really changes
                    self._fps_top = top
                    self.webcam.setYRange(0, top, padding=0)
            self.fps_curve.setPos(-now, 0)
        expression = self.hub.first_of_type("FacialExpression")
        if self.expression.isVisible() != (expression is not None) or not self.frames:
            self.show_expression(expression is not None)
            self.webcam.getPlotItem().getAxis("bottom").setStyle(showValues=expression is None)
            self.webcam.setLabel("bottom", "" if expression is not None else "seconds before now")
        if expression is not None:
            curves = [(self.smile_curve, "smile")] + ([(self.valence_curve, "valence")]
                                                      if expression.channel_count > 1 else [])
            self.follow(self._expression, expression, now, curves, connect="finite")  # no face: a gap
