"""What each screen of the task looks like, and where its clickable parts are.

Screens are plain values (``Fixation()``, ``RatingScreen(...)``); ``paint``
draws one into any QPainter, and the hit-test functions use the very same
layout, so a click lands where the participant saw the line or the button.
Sizes are fractions of the window height, so the task looks the same on a
laptop and on a lab monitor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPen

from stimulus.protocol import CHOICES, Display

CHOICE_KEYS = {"sad": "S", "neutral": "N", "happy": "H"}
GOOD = QColor("#3fbf6f")
BAD = QColor("#f0a030")


@dataclass(frozen=True)
class Blank:
    pass


@dataclass(frozen=True)
class Fixation:
    pass


@dataclass(frozen=True)
class FaceScreen:
    image: QImage


@dataclass(frozen=True)
class RatingScreen:
    prompt: str
    low_label: str
    high_label: str
    cursor: float | None = None


@dataclass(frozen=True)
class ChoiceScreen:
    prompt: str
    options: tuple[str, ...] = CHOICES
    highlighted: str | None = None


@dataclass(frozen=True)
class FeedbackScreen:
    correct: bool
    title: str
    detail: str
    image: QImage | None = None


@dataclass(frozen=True)
class TextScreen:
    title: str
    body: str = ""
    footer: str = "Press space to continue"


Screen = Blank | Fixation | FaceScreen | RatingScreen | ChoiceScreen | FeedbackScreen | TextScreen


@dataclass(frozen=True)
class Overlay:
    """Live feedback drawn over whatever screen is shown (stimulus/feedback.py decides what).

    ``cues`` are screen-normalised boxes (x0, y0, x1, y1) to draw attention to;
    ``smile`` (0..1) shows her smile as a bar beside the face, with her
    ``baseline`` and the ``threshold`` that counts as mirroring marked on it;
    ``calm_phase`` (0..1 through one breath) shows a circle that grows while
    she breathes in and shrinks while she breathes out.
    """

    cues: tuple[tuple[float, float, float, float], ...] = ()
    cue_style: str = "outline"
    cue_colour: str = "#ffe680"
    smile: float | None = None
    baseline: float = 0.0
    threshold: float = 1.0
    mirrored: bool = False
    calm_phase: float | None = None
    calm_text: str = ""

    @property
    def empty(self) -> bool:
        return not self.cues and self.smile is None and self.calm_phase is None


# -- layout ------------------------------------------------------------------
def rating_bar(w: float, h: float) -> QRectF:
    """The analogue scale's line: 60 % of the width, centred."""
    return QRectF(0.2 * w, 0.5 * h - 0.006 * h, 0.6 * w, 0.012 * h)


def rating_value_at(pos: QPointF, w: float, h: float) -> float | None:
    """0-100 for a point on (or just beside) the scale; None if the click missed it."""
    bar = rating_bar(w, h)
    grab = 0.05 * h
    if abs(pos.y() - bar.center().y()) > grab:
        return None
    if pos.x() < bar.left() - grab or pos.x() > bar.right() + grab:
        return None
    value = (pos.x() - bar.left()) / bar.width() * 100.0
    return round(min(100.0, max(0.0, value)), 1)


def rating_point(value: float, w: float, h: float) -> QPointF:
    """Where on the screen a rating of ``value`` sits (what a simulated participant clicks)."""
    bar = rating_bar(w, h)
    return QPointF(bar.left() + bar.width() * value / 100.0, bar.center().y())


def choice_buttons(options: tuple[str, ...], w: float, h: float) -> dict[str, QRectF]:
    bw, bh, gap = 0.2 * w, 0.1 * h, 0.04 * w
    total = len(options) * bw + (len(options) - 1) * gap
    x0 = (w - total) / 2
    return {opt: QRectF(x0 + i * (bw + gap), 0.78 * h, bw, bh) for i, opt in enumerate(options)}


def choice_at(pos: QPointF, options: tuple[str, ...], w: float, h: float) -> str | None:
    for option, rect in choice_buttons(options, w, h).items():
        if rect.contains(pos):
            return option
    return None


def photodiode_rect(display: Display, w: float, h: float) -> QRectF:
    s = display.photodiode_size
    x = 0.0 if display.photodiode_corner.endswith("left") else w - s
    y = 0.0 if display.photodiode_corner.startswith("top") else h - s
    return QRectF(x, y, s, s)


# -- painting ------------------------------------------------------------------
def paint(p: QPainter, screen: Screen, display: Display, w: float, h: float,
          photodiode_on: bool | None = None, overlay: Overlay | None = None) -> None:
    """Draw ``screen`` filling w x h, then the feedback overlay; the photodiode patch last."""
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    p.fillRect(QRectF(0, 0, w, h), QColor(display.background))
    fg = QColor(display.foreground)
    if isinstance(screen, Fixation):
        _fixation(p, fg, w, h)
    elif isinstance(screen, FaceScreen):
        _image(p, screen.image, QPointF(w / 2, h / 2))
    elif isinstance(screen, RatingScreen):
        _rating(p, screen, fg, w, h)
    elif isinstance(screen, ChoiceScreen):
        _choices(p, screen, fg, w, h)
    elif isinstance(screen, FeedbackScreen):
        _feedback(p, screen, fg, w, h)
    elif isinstance(screen, TextScreen):
        _text_screen(p, screen, fg, w, h)
    if overlay is not None and not overlay.empty:
        paint_overlay(p, overlay, fg, w, h, on_face=isinstance(screen, FaceScreen))
    if display.photodiode and photodiode_on is not None:
        p.fillRect(photodiode_rect(display, w, h),
                   QColor("white") if photodiode_on else QColor("black"))


def _font(h: float, size: float, bold: bool = False) -> QFont:
    font = QFont()
    font.setPixelSize(max(8, round(size * h)))
    font.setBold(bold)
    return font


def _fixation(p: QPainter, fg: QColor, w: float, h: float) -> None:
    arm, thick = 0.03 * h, max(2.0, 0.006 * h)
    p.fillRect(QRectF(w / 2 - arm, h / 2 - thick / 2, 2 * arm, thick), fg)
    p.fillRect(QRectF(w / 2 - thick / 2, h / 2 - arm, thick, 2 * arm), fg)


def _image(p: QPainter, image: QImage, centre: QPointF) -> QRectF:
    rect = QRectF(centre.x() - image.width() / 2, centre.y() - image.height() / 2,
                  image.width(), image.height())
    p.drawImage(rect.topLeft(), image)
    return rect


def _text(p: QPainter, rect: QRectF, text: str, fg: QColor, font: QFont,
          flags: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignCenter) -> None:
    p.setFont(font)
    p.setPen(fg)
    p.drawText(rect, int(flags | Qt.TextFlag.TextWordWrap), text)


def _rating(p: QPainter, s: RatingScreen, fg: QColor, w: float, h: float) -> None:
    _text(p, QRectF(0.1 * w, 0.22 * h, 0.8 * w, 0.12 * h), s.prompt, fg, _font(h, 0.05))
    bar = rating_bar(w, h)
    p.fillRect(bar, fg)
    tick_h = 0.05 * h
    for frac in (0.0, 0.5, 1.0):
        x = bar.left() + frac * bar.width()
        p.fillRect(QRectF(x - bar.height() / 2, bar.center().y() - tick_h / 2, bar.height(), tick_h), fg)
    label_font = _font(h, 0.035)
    lw = 0.3 * w
    _text(p, QRectF(bar.left() - lw / 2, bar.bottom() + 0.04 * h, lw, 0.06 * h), s.low_label, fg, label_font)
    _text(p, QRectF(bar.right() - lw / 2, bar.bottom() + 0.04 * h, lw, 0.06 * h), s.high_label, fg, label_font)
    hint = "Click on the line, or use the arrow keys and press Enter"
    _text(p, QRectF(0.1 * w, 0.8 * h, 0.8 * w, 0.06 * h), hint, QColor(fg.red(), fg.green(), fg.blue(), 170),
          _font(h, 0.025))
    if s.cursor is not None:
        x = bar.left() + bar.width() * s.cursor / 100.0
        handle = QRectF(x - 0.009 * h, bar.center().y() - 0.045 * h, 0.018 * h, 0.09 * h)
        p.setPen(QPen(QColor("black"), max(1.0, 0.003 * h)))
        p.setBrush(QColor("#ffd34d"))
        p.drawRoundedRect(handle, 0.005 * h, 0.005 * h)


def _choices(p: QPainter, s: ChoiceScreen, fg: QColor, w: float, h: float) -> None:
    _text(p, QRectF(0.1 * w, 0.3 * h, 0.8 * w, 0.12 * h), s.prompt, fg, _font(h, 0.05))
    font = _font(h, 0.04, bold=True)
    for option, rect in choice_buttons(s.options, w, h).items():
        lit = option == s.highlighted
        p.setPen(QPen(fg, max(1.0, 0.004 * h)))
        p.setBrush(QColor(255, 255, 255, 90 if lit else 35))
        p.drawRoundedRect(rect, 0.015 * h, 0.015 * h)
        key = CHOICE_KEYS.get(option, "")
        label = f"{option.capitalize()}  ({key})" if key else option.capitalize()
        _text(p, rect, label, fg, font)


def _feedback(p: QPainter, s: FeedbackScreen, fg: QColor, w: float, h: float) -> None:
    colour = GOOD if s.correct else BAD
    if s.image is not None:
        rect = _image(p, s.image, QPointF(w / 2, 0.4 * h))
        pen = QPen(colour, max(3.0, 0.012 * h))
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(rect.adjusted(-0.01 * h, -0.01 * h, 0.01 * h, 0.01 * h), 0.02 * h, 0.02 * h)
    _text(p, QRectF(0.05 * w, 0.74 * h, 0.9 * w, 0.09 * h), s.title, colour, _font(h, 0.06, bold=True))
    _text(p, QRectF(0.05 * w, 0.84 * h, 0.9 * w, 0.07 * h), s.detail, fg, _font(h, 0.04))


def _text_screen(p: QPainter, s: TextScreen, fg: QColor, w: float, h: float) -> None:
    _text(p, QRectF(0.1 * w, 0.12 * h, 0.8 * w, 0.12 * h), s.title, fg, _font(h, 0.06, bold=True))
    _text(p, QRectF(0.12 * w, 0.28 * h, 0.76 * w, 0.5 * h), s.body, fg, _font(h, 0.04),
          Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
    if s.footer:
        _text(p, QRectF(0.1 * w, 0.84 * h, 0.8 * w, 0.07 * h), s.footer,
              QColor(fg.red(), fg.green(), fg.blue(), 190), _font(h, 0.032))


# -- live feedback ---------------------------------------------------------------
def smile_bar(w: float, h: float) -> QRectF:
    """The mirroring bar's track: a slim vertical bar right of the face."""
    return QRectF(0.5 * w + 0.36 * h, 0.3 * h, 0.028 * h, 0.4 * h)


def paint_overlay(p: QPainter, o: Overlay, fg: QColor, w: float, h: float, on_face: bool = True) -> None:
    """Cues and the smile bar belong to a face: they go in the same frame as the face does."""
    colour = QColor(o.cue_colour)
    for x0, y0, x1, y1 in o.cues if on_face else ():
        rect = QRectF(x0 * w, y0 * h, (x1 - x0) * w, (y1 - y0) * h)
        radius = 0.25 * min(rect.width(), rect.height())
        if o.cue_style == "brighten":
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(255, 255, 255, 70))
            p.drawRoundedRect(rect, radius, radius)
        else:
            for width, alpha in ((0.022, 60), (0.008, 220)):  # a soft glow, then the line
                ring = QColor(colour)
                ring.setAlpha(alpha)
                p.setPen(QPen(ring, max(1.5, width * h)))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRoundedRect(rect, radius, radius)
    if o.smile is not None and on_face:
        _smile_bar(p, o, fg, w, h)
    if o.calm_phase is not None:
        _calm(p, o, fg, w, h)


def _smile_bar(p: QPainter, o: Overlay, fg: QColor, w: float, h: float) -> None:
    track = smile_bar(w, h)
    p.setPen(QPen(QColor(fg.red(), fg.green(), fg.blue(), 150), max(1.0, 0.003 * h)))
    p.setBrush(QColor(0, 0, 0, 60))
    p.drawRoundedRect(track, track.width() / 2, track.width() / 2)
    level = min(1.0, max(0.0, o.smile))
    fill = QRectF(track.left(), track.bottom() - level * track.height(), track.width(), level * track.height())
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(GOOD if o.mirrored else QColor(255, 255, 255, 190))
    p.drawRoundedRect(fill, track.width() / 2, track.width() / 2)
    for value, alpha in ((o.baseline, 220), (o.threshold, 120)):  # her baseline, and where mirroring starts
        if 0.0 <= value <= 1.0:
            y = track.bottom() - value * track.height()
            p.fillRect(QRectF(track.left() - 0.25 * track.width(), y - 0.002 * h, 1.5 * track.width(),
                              max(1.0, 0.004 * h)), QColor(fg.red(), fg.green(), fg.blue(), alpha))
    label = QRectF(track.center().x() - 0.08 * h, track.bottom() + 0.01 * h, 0.16 * h, 0.04 * h)
    _text(p, label, "you smiled" if o.mirrored else "your smile",
          GOOD if o.mirrored else QColor(fg.red(), fg.green(), fg.blue(), 200), _font(h, 0.022))


def _calm(p: QPainter, o: Overlay, fg: QColor, w: float, h: float) -> None:
    breath = 0.5 - 0.5 * math.cos(2 * math.pi * o.calm_phase)  # 0 -> 1 breathing in, back to 0 out
    r = (0.035 + 0.045 * breath) * h
    centre = QPointF(0.5 * w, 0.12 * h)
    p.setPen(QPen(QColor(190, 220, 255, 200), max(1.0, 0.004 * h)))
    p.setBrush(QColor(150, 195, 245, 110))
    p.drawEllipse(centre, r, r)
    word = "breathe in" if o.calm_phase < 0.5 else "breathe out"
    text = f"{o.calm_text} \u00b7 {word}" if o.calm_text else word
    _text(p, QRectF(0.2 * w, 0.2 * h, 0.6 * w, 0.05 * h), text, fg, _font(h, 0.03))
