"""Live plots: GSR with its tonic level, gaze, pupil, webcam rate and expression, markers on every trace.

Everything is drawn from the hub's ring buffers on the panel's redraw
timer; no plot ever touches LSL. Time runs along x as seconds before now
(``-window .. 0``) so the traces scroll and all rows share one axis.
Curves keep their items and only get ``setData``; pyqtgraph clips to the
view and peak-downsamples, so a 1200 Hz eye tracker costs the same as a
slow stream. Markers are a fixed pool of labelled lines per trace, moved
into place each frame, never created or destroyed while running.
"""
from __future__ import annotations

import numpy as np
import pylsl
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFontMetricsF
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from acquisition.live import TONIC_WINDOW, LiveHub, LiveStream, Marker, frame_rate, tonic_level
from gui.style import BLUE, GREEN, GREY, INK, MARKER, ORANGE, PURPLE, SKY

MAX_LABELS = 40  # marker labels on the GSR plot at most (lines: every marker in the window)
LABEL_ROWS = 2  # marker labels sit in two staggered rows at the top of the GSR plot
LABEL_HEIGHTS = (0.93, 0.80)
LABEL_PAD = 6  # pixels kept free between two labels in a row
SAMPLES_PER_PIXEL = 1.0  # peak downsampling: one min/max pair per pixel column looks the same as all samples
TONIC_LABEL = f"tonic level ({TONIC_WINDOW:g} s median, known up to {TONIC_WINDOW / 2:g} s ago)"
TONIC_EVERY = 0.5  # seconds between tonic-level updates (a slow median need not run at 30 Hz)
GAZE_TRAIL = 0.5  # seconds of gaze path drawn behind the current point

pg.setConfigOptions(antialias=False, background="w", foreground=INK)


def columns(stream: LiveStream, *names: str) -> list[int]:
    """Indices of channels by label, e.g. left_x, right_x (missing labels are skipped)."""
    return [stream.labels.index(n) for n in names if n in stream.labels]


def eye_mean(values: np.ndarray, idx: list[int]) -> np.ndarray:
    """Mean over the valid eyes; NaN (a gap in the trace) while both are invalid."""
    if not idx:
        return np.full(len(values), np.nan)
    picked = values[:, idx]
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(picked).sum(axis=1)
        sums = np.nansum(picked, axis=1)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


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
        self.curve = pg.PlotCurveItem(pen=pg.mkPen(MARKER, width=1, style=Qt.PenStyle.DashLine), connect="pairs")
        self.curve.setZValue(5)
        plot.addItem(self.curve, ignoreBounds=True)
        self.with_labels = labels
        self.labels: list[pg.TextItem] = []
        self._widths: dict[str, float] = {}
        self.placed: list[tuple[float, str, int]] = []  # (x, text, row) of the labels shown, for tests

    def show(self, xs: np.ndarray, texts: list[str]) -> None:
        """Draw lines at ``xs`` (sorted) and label them with ``texts`` where there is room."""
        (x0, x1), (y0, y1) = self.plot.viewRange()
        if len(xs):
            span = y1 - y0
            self.curve.setData(np.repeat(xs, 2), np.tile([y0 - span, y1 + span], len(xs)))
        elif self.curve.xData is not None and len(self.curve.xData):
            self.curve.setData([], [])
        if self.with_labels:
            self._place_labels(xs, texts, x0, x1, y0, y1)

    def _place_labels(self, xs: np.ndarray, texts: list[str], x0: float, x1: float, y0: float, y1: float) -> None:
        per_pixel = self.plot.getViewBox().viewPixelSize()[0]
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
            label.setPos(x, y0 + LABEL_HEIGHTS[row] * (y1 - y0))
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


class TracePlot(pg.PlotWidget):
    """One scrolling row: named curves against seconds-before-now, with marker lines."""

    def __init__(self, title: str, unit: str, marker_labels: bool = False) -> None:
        super().__init__()
        self.setMinimumHeight(90)
        item = self.getPlotItem()
        item.setTitle(f"<span style='color:{INK}; font-size:10pt'><b>{title}</b></span>")
        item.setLabel("left", unit)
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.setMenuEnabled(False)
        item.hideButtons()
        item.getAxis("left").setWidth(52)
        for name in ("left", "bottom"):  # an axis is redrawn from a cached pixmap unless its range moves
            item.getAxis(name).setCacheMode(pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setMouseEnabled(x=False, y=False)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.legend = None
        self.markers = MarkerLines(item, marker_labels)
        self.note = pg.TextItem("", color=GREY, anchor=(0.5, 0.5))
        self.note.setZValue(10)
        item.addItem(self.note, ignoreBounds=True)

    def curve(self, name: str, colour: str, width: float = 1.0, legend: bool = False,
              legend_at: tuple[int, int] = (4, 2)) -> pg.PlotDataItem:
        if legend and self.legend is None:  # a negative offset counts from the bottom
            self.legend = self.getPlotItem().addLegend(offset=legend_at, labelTextColor=INK, colCount=3,
                                                       brush=pg.mkBrush(255, 255, 255, 200))
        c = self.plot([], [], pen=pg.mkPen(colour, width=width), name=name if legend else None)
        c.setClipToView(True)
        c.setDownsampling(auto=True, method="peak")
        c.opts["autoDownsampleFactor"] = SAMPLES_PER_PIXEL  # pyqtgraph's default draws 5 per pixel
        c.setSkipFiniteCheck(False)
        self.curves[name] = c
        return c

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
        item.addItem(screen)
        centre = pg.ScatterPlotItem([0.5], [0.5], symbol="+", size=14, pen=pg.mkPen(GREY), brush=None)
        item.addItem(centre)
        self.trail = self.plot([], [], pen=pg.mkPen(SKY, width=1.5))
        self.point = pg.ScatterPlotItem([], [], size=16, pen=pg.mkPen("w", width=2), brush=pg.mkBrush(BLUE))
        item.addItem(self.point)
        self.status = pg.TextItem("", color=GREY, anchor=(0.5, 0))
        self.status.setPos(0.5, 1.0)
        item.addItem(self.status)

    def show_gaze(self, x: np.ndarray, y: np.ndarray) -> None:
        ok = np.isfinite(x) & np.isfinite(y)
        self.trail.setData(x[ok], y[ok])
        if len(x) and ok[-1]:
            self.point.setData([x[-1]], [y[-1]])
            self.status.setText("")
        else:
            self.point.setData([], [])
            self.status.setText("no valid gaze (blink or off screen)" if len(x) else "no gaze stream")


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
        self.gaze = GazeView()
        self.gaze.setMinimumWidth(220)

        left = QVBoxLayout()
        left.setSpacing(2)
        left.setContentsMargins(0, 0, 0, 0)
        for plot, stretch in zip(self.traces, (3, 2, 2, 1, 2)):
            left.addWidget(plot, stretch)
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

    def _markers(self, now: float) -> None:
        # Positions move with time, so they are recomputed each frame (only markers in the window).
        found: list[Marker] = self.hub.markers.between(now - self.window, now + 1.0)
        xs = np.array([m.stamp - now for m in found])
        texts = [m.label for m in found]
        for plot in self.traces:
            if plot.isVisible():
                plot.markers.show(xs, texts)

    def _draw_gsr(self, now: float) -> None:
        stream = self.hub.first_of_type("GSR")
        if stream is None:
            self.gsr_curve.setData([], [])
            self.tonic_curve.setData([], [])
            self.gsr.set_note("no GSR stream", self.window)
            return
        stamps, values = stream.window(self.window, now)
        self.gsr.set_note("" if len(stamps) else f"{stream.name}: no data", self.window)
        self.gsr_curve.setData(stamps - now, values[:, 0])
        if now - self._tonic_at >= TONIC_EVERY or self.paused:
            self._tonic_at = now
            long_stamps, long_values = stream.window(self.window + TONIC_WINDOW, now)
            self._tonic = tonic_level(long_stamps, long_values[:, 0])
        t, level = self._tonic
        keep = t >= now - self.window
        self.tonic_curve.setData(t[keep] - now, level[keep])

    def _draw_gaze(self, now: float) -> None:
        stream = self.hub.first_of_type("Gaze")
        if stream is None:
            for c in (self.gaze_x, self.gaze_y, self.pupil_l, self.pupil_r):
                c.setData([], [])
            self.gaze_xy.set_note("no eye tracker stream", self.window)
            self.pupil.set_note("no eye tracker stream", self.window)
            self.gaze.show_gaze(np.zeros(0), np.zeros(0))
            self.gaze_info.setText("")
            return
        self.gaze_xy.set_note("", self.window)
        self.pupil.set_note("", self.window)
        stamps, values = stream.window(self.window, now)
        t = stamps - now
        x = eye_mean(values, columns(stream, "left_x", "right_x"))
        y = eye_mean(values, columns(stream, "left_y", "right_y"))
        self.gaze_x.setData(t, x, connect="finite")
        self.gaze_y.setData(t, y, connect="finite")
        lp, rp = columns(stream, "left_pupil"), columns(stream, "right_pupil")
        self.pupil_l.setData(t, values[:, lp[0]] if lp else np.full(len(t), np.nan), connect="finite")
        self.pupil_r.setData(t, values[:, rp[0]] if rp else np.full(len(t), np.nan), connect="finite")
        trail = stamps >= (stamps[-1] - GAZE_TRAIL if len(stamps) else now)
        self.gaze.show_gaze(x[trail], y[trail])
        if len(x):
            valid = np.isfinite(x)
            self.gaze_info.setText(f"{stream.name}: {100 * valid.mean():.0f} % valid gaze in the window")

    def _draw_webcam(self, now: float) -> None:
        frames = self.hub.first_of_type("VideoFrames")
        if frames is None:
            self.fps_curve.setData([], [])
            self.webcam.set_note("no webcam stream", self.window)
        else:
            stamps, _ = frames.window(self.window, now)
            t, fps = frame_rate(stamps)
            self.fps_curve.setData(t - now, fps)
            self.webcam.set_note("" if len(stamps) else f"{frames.name}: no frames", self.window)
            top = max(frames.nominal_srate * 1.25, float(fps.max()) * 1.1 if len(fps) else 1.0, 1.0)
            self.webcam.setYRange(0, top, padding=0)
        expression = self.hub.first_of_type("FacialExpression")
        if self.expression.isHidden() != (expression is None) or not self.frames:
            self.expression.setVisible(expression is not None)
            self.webcam.getPlotItem().getAxis("bottom").setStyle(showValues=expression is None)
            self.webcam.setLabel("bottom", "" if expression is not None else "seconds before now")
        if expression is not None:
            stamps, values = expression.window(self.window, now)
            t = stamps - now
            smile, valence = columns(expression, "smile"), columns(expression, "valence")
            self.smile_curve.setData(t, values[:, smile[0] if smile else 0])
            if valence or expression.channel_count > 1:
                self.valence_curve.setData(t, values[:, valence[0] if valence else 1])
