"""Procedurally drawn infant faces on a sad-neutral-happy morph continuum.

Why drawn: a lab can run the task (and the test suite) without downloading
or licensing a face database, and every pixel is reproducible from two
numbers, the identity and the morph value. ``morph`` runs from -1 (clearly
sad, crying) through 0 (neutral) to +1 (clearly happy, laughing); every
feature that carries emotion moves continuously with it:

- mouth: corners rise (happy) or fall (sad); past |morph| 0.35 it opens,
  into a "D" for laughing or a square cry;
- brows: inner ends lift for sadness, the whole brow lifts and arches for joy;
- eyes: the lower lid pushes up into a crescent (happy) or the lids squeeze
  with drooping outer corners (sad);
- cheeks: raised and rounder for joy, lower and flushed for crying.

Drawn with QPainter into a QImage, antialiased, in unit coordinates scaled
to the requested size: the same call gives the same pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QImage, QPainter, QPainterPath, QPen, QRadialGradient

from stimulus import face_geometry

#: Colour of lips and mouth interior; nothing else on the face is this dark and this red,
#: which keeps the mouth measurable in the pixels.
LIP = QColor(178, 62, 72)
LIP_ON_DARK = QColor(122, 32, 50)  # the same red, darker, so the mouth stays visible on dark skin
MOUTH_INSIDE = QColor(105, 28, 40)


def lip_colour(skin: QColor) -> QColor:
    return LIP_ON_DARK if skin.lightness() < 150 else LIP


@dataclass(frozen=True)
class Identity:
    """What makes one baby look like itself; the emotion is separate (``morph``)."""

    name: str
    skin: str
    iris: str
    hair: str
    hair_style: str  # tuft, cap, fuzz, curls, fringe
    head_w: float  # half-width of the head, unit coordinates
    head_h: float  # half-height
    eye_gap: float  # distance of each eye from the midline
    eye_size: float
    clothes: str


IDENTITIES: tuple[Identity, ...] = (
    Identity("A", "#f4d2bc", "#4a3526", "#c8955a", "tuft", 0.315, 0.365, 0.118, 1.00, "#9cc7e8"),
    Identity("B", "#d6a07b", "#2b1d14", "#2a1c12", "cap", 0.330, 0.355, 0.125, 0.95, "#f2b8c6"),
    Identity("C", "#f7dccb", "#5a7fa8", "#e8cf9a", "fuzz", 0.305, 0.375, 0.112, 1.05, "#c9e4b4"),
    Identity("D", "#8e5b3e", "#1e130c", "#1a120c", "curls", 0.325, 0.360, 0.122, 1.00, "#f5e09a"),
    Identity("E", "#e9bc98", "#3b2a1f", "#5b3a22", "fringe", 0.320, 0.370, 0.120, 0.98, "#d3c2ec"),
    Identity("F", "#b77c58", "#2f2118", "#3a2416", "tuft", 0.335, 0.350, 0.128, 1.02, "#f7c59f"),
)
IDENTITY_NAMES: tuple[str, ...] = tuple(i.name for i in IDENTITIES)


def identity(name: str) -> Identity:
    for ident in IDENTITIES:
        if ident.name == name:
            return ident
    raise KeyError(f"no built-in face identity {name!r}; known: {', '.join(IDENTITY_NAMES)}")


def emotion_of(morph: float) -> str:
    """The category a morph value belongs to: the sign decides, exactly 0 is neutral."""
    if morph > 1e-9:
        return "happy"
    if morph < -1e-9:
        return "sad"
    return "neutral"


def morph_levels(n: int) -> list[float]:
    """``n`` evenly spaced values from -1 to 1 (odd ``n`` includes 0 exactly)."""
    if n < 2:
        return [0.0]
    return [round(-1.0 + 2.0 * i / (n - 1), 4) for i in range(n)]


def render_face(ident: Identity | str, morph: float, size: int = 512) -> QImage:
    """One face as a size x size ARGB image with a transparent background."""
    if isinstance(ident, str):
        ident = identity(ident)
    morph = max(-1.0, min(1.0, float(morph)))
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.scale(size, size)
        _draw(painter, ident, morph)
    finally:
        painter.end()
    return image


# -- drawing ---------------------------------------------------------------
CX = face_geometry.CENTRE_X
HEAD_CY = face_geometry.HEAD_CENTRE_Y


def _pen(colour: QColor | str, width: float) -> QPen:
    pen = QPen(QColor(colour), width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _quad(p0: QPointF, ctrl: QPointF, p1: QPointF) -> QPainterPath:
    path = QPainterPath(p0)
    path.quadTo(ctrl, p1)
    return path


def _ctrl_for_mid(p0: QPointF, mid_y: float, p1: QPointF) -> QPointF:
    """Control point of a quadratic curve whose midpoint sits at height ``mid_y``."""
    return QPointF((p0.x() + p1.x()) / 2, 2 * mid_y - (p0.y() + p1.y()) / 2)


def _draw(p: QPainter, ident: Identity, m: float) -> None:
    happy = max(m, 0.0)
    sad = max(-m, 0.0)
    skin = QColor(ident.skin)
    shade = skin.darker(118)
    p.setPen(Qt.PenStyle.NoPen)

    # shoulders in a onesie, so the picture reads as a baby at a glance
    p.setBrush(QColor(ident.clothes))
    p.drawEllipse(QRectF(CX - 0.36, 0.86, 0.72, 0.40))
    p.setBrush(skin.darker(108))
    p.drawRect(QRectF(CX - 0.07, 0.80, 0.14, 0.09))

    # ears
    for side in (-1, 1):
        ex = CX + side * (ident.head_w + 0.005)
        p.setBrush(skin)
        p.drawEllipse(QPointF(ex, 0.545), 0.045, 0.062)
        p.setBrush(shade)
        p.drawEllipse(QPointF(ex + side * 0.008, 0.548), 0.022, 0.036)

    # head with soft shading toward the edge
    grad = QRadialGradient(QPointF(CX - 0.06, HEAD_CY - 0.08), ident.head_h * 1.25)
    grad.setColorAt(0.0, skin.lighter(106))
    grad.setColorAt(0.75, skin)
    grad.setColorAt(1.0, shade)
    p.setBrush(QBrush(grad))
    p.drawEllipse(QPointF(CX, HEAD_CY), ident.head_w, ident.head_h)

    # crying flushes the whole face
    if sad > 0.3:
        flush = QRadialGradient(QPointF(CX, HEAD_CY + 0.08), ident.head_h)
        flush.setColorAt(0.0, QColor(235, 90, 80, int(70 * (sad - 0.3) / 0.7)))
        flush.setColorAt(1.0, QColor(235, 90, 80, 0))
        p.setBrush(QBrush(flush))
        p.drawEllipse(QPointF(CX, HEAD_CY), ident.head_w, ident.head_h)

    _hair(p, ident)
    _cheeks(p, ident, happy, sad)
    _brows(p, ident, happy, sad)
    for side in (-1, 1):
        _eye(p, ident, side, happy, sad)
    _nose(p, skin)
    _mouth(p, m, happy, sad, skin)
    if sad > 0.65:
        _tears(p, ident, (sad - 0.65) / 0.35)


def _hair(p: QPainter, ident: Identity) -> None:
    colour = QColor(ident.hair)
    top = HEAD_CY - ident.head_h
    w = ident.head_w
    if ident.hair_style == "cap":
        path = QPainterPath(QPointF(CX - w * 0.96, HEAD_CY - 0.10))
        path.cubicTo(QPointF(CX - w, top - 0.03), QPointF(CX + w, top - 0.03),
                     QPointF(CX + w * 0.96, HEAD_CY - 0.10))
        path.cubicTo(QPointF(CX + w * 0.7, top + 0.10), QPointF(CX - w * 0.2, top + 0.04),
                     QPointF(CX - w * 0.96, HEAD_CY - 0.10))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawPath(path)
    elif ident.hair_style == "curls":
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        for i in range(9):
            a = math.pi * (0.12 + 0.76 * i / 8)
            x = CX - math.cos(a) * w * 0.88
            y = HEAD_CY - math.sin(a) * ident.head_h * 0.92
            p.drawEllipse(QPointF(x, y), 0.052, 0.048)
    elif ident.hair_style == "fringe":
        p.setPen(_pen(colour, 0.016))
        p.setBrush(Qt.BrushStyle.NoBrush)
        for i in range(11):
            x = CX - w * 0.75 + i * w * 0.15
            p.drawPath(_quad(QPointF(x - 0.02, top + 0.01), QPointF(x + 0.01, top + 0.04),
                             QPointF(x + 0.012, top + 0.115)))
    elif ident.hair_style == "fuzz":
        p.setPen(_pen(colour, 0.008))
        p.setBrush(Qt.BrushStyle.NoBrush)
        for i in range(14):
            a = math.pi * (0.2 + 0.6 * i / 13)
            x = CX - math.cos(a) * w * 0.8
            y = HEAD_CY - math.sin(a) * ident.head_h * 0.97
            p.drawPath(_quad(QPointF(x, y + 0.02), QPointF(x - 0.012, y - 0.01), QPointF(x + 0.006, y - 0.03)))
    else:  # tuft: one curl on top
        p.setPen(_pen(colour, 0.014))
        p.setBrush(Qt.BrushStyle.NoBrush)
        for dx, lift in ((-0.03, 0.05), (0.0, 0.075), (0.03, 0.055)):
            start = QPointF(CX + dx, top + 0.012)
            path = QPainterPath(start)
            path.cubicTo(QPointF(CX + dx - 0.02, top - lift), QPointF(CX + dx + 0.06, top - lift),
                         QPointF(CX + dx + 0.04, top - lift * 0.35))
            p.drawPath(path)


def _cheeks(p: QPainter, ident: Identity, happy: float, sad: float) -> None:
    for side in (-1, 1):
        cx = CX + side * (ident.eye_gap + 0.075)
        cy = 0.675 - 0.025 * happy + 0.012 * sad
        r = 0.058 + 0.014 * happy + 0.008 * sad
        alpha = int(70 + 70 * happy + 90 * sad)
        grad = QRadialGradient(QPointF(cx, cy), r)
        grad.setColorAt(0.0, QColor(244, 120, 120, alpha))
        grad.setColorAt(1.0, QColor(244, 120, 120, 0))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QBrush(grad))
        p.drawEllipse(QPointF(cx, cy), r, r * (0.85 + 0.1 * happy))


def _brows(p: QPainter, ident: Identity, happy: float, sad: float) -> None:
    colour = QColor(ident.hair)
    colour.setAlpha(200)
    p.setPen(_pen(colour, 0.011))
    p.setBrush(Qt.BrushStyle.NoBrush)
    base = 0.455 - 0.018 * happy
    for side in (-1, 1):
        ex = CX + side * ident.eye_gap
        inner = QPointF(ex - side * 0.040, base + 0.004 - 0.040 * sad)
        outer = QPointF(ex + side * 0.055, base + 0.012 + 0.014 * sad)
        arch = base - 0.018 - 0.014 * happy + 0.004 * sad
        ctrl = QPointF((inner.x() + outer.x()) / 2 - side * 0.01 * sad,
                       arch - 0.012 * sad)
        p.drawPath(_quad(inner, ctrl, outer))


def _eye(p: QPainter, ident: Identity, side: int, happy: float, sad: float) -> None:
    ex, ey = CX + side * ident.eye_gap, face_geometry.EYE_Y
    ew = 0.052 * ident.eye_size
    eh = 0.040 * ident.eye_size
    inner = QPointF(ex - side * ew, ey - 0.006 * sad)
    outer = QPointF(ex + side * ew, ey + 0.014 * sad)
    upper_mid = ey - eh * (1.0 - 0.12 * happy - 0.62 * sad)
    lower_mid = ey + eh * (0.80 - 1.25 * happy - 0.40 * sad)
    upper = _quad(inner, _ctrl_for_mid(inner, upper_mid, outer), outer)
    aperture = QPainterPath(upper)
    aperture.quadTo(_ctrl_for_mid(outer, lower_mid, inner), inner)
    aperture.closeSubpath()

    p.save()
    p.setPen(Qt.PenStyle.NoPen)
    # a laughing eye is a narrow crescent that shows mostly iris
    sclera = _mix(QColor(250, 250, 252), QColor(ident.iris).darker(120), min(1.0, 1.3 * happy))
    p.setBrush(sclera)
    p.drawPath(aperture)
    p.setClipPath(aperture)
    iris_y = ey - 0.004 + 0.006 * sad - 0.35 * eh * happy
    p.setBrush(QColor(ident.iris))
    p.drawEllipse(QPointF(ex, iris_y), eh * 0.95, eh * 0.95)
    p.setBrush(QColor(12, 10, 10))
    p.drawEllipse(QPointF(ex, iris_y), eh * 0.45, eh * 0.45)
    p.setBrush(QColor(255, 255, 255, 230))
    p.drawEllipse(QPointF(ex - eh * 0.30, iris_y - eh * 0.35), eh * 0.20, eh * 0.20)
    p.restore()

    lid = QColor(ident.skin).darker(190)
    p.setPen(_pen(lid, 0.009))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(upper)
    # a smile pushes the lower lid up: draw it, so the eye reads as a crescent
    if happy > 0.2:
        lower_lid = QColor(lid)
        lower_lid.setAlpha(int(220 * (happy - 0.2) / 0.8))
        p.setPen(_pen(lower_lid, 0.007))
        p.drawPath(_quad(outer, _ctrl_for_mid(outer, lower_mid, inner), inner))
    if sad > 0.25:
        crease = QColor(ident.skin).darker(140)
        crease.setAlpha(int(210 * (sad - 0.25) / 0.75))
        p.setPen(_pen(crease, 0.006))
        y = upper_mid - 0.018
        p.drawPath(_quad(QPointF(ex - side * ew * 0.7, y - 0.006), QPointF(ex, y - 0.012),
                         QPointF(ex + side * ew * 0.9, y + 0.012)))


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def _lip_curve(path: QPainterPath, start: QPointF, mid_y: float, end: QPointF) -> None:
    """A cubic from ``start`` to ``end`` passing through height ``mid_y`` at the middle.

    Both controls share one height, which gives the rounded U (or dome) of a
    real lip rather than the V of a single quadratic.
    """
    ctrl_y = (8 * mid_y - start.y() - end.y()) / 6
    dx = (end.x() - start.x()) * 0.22
    path.cubicTo(QPointF(start.x() + dx, ctrl_y), QPointF(end.x() - dx, ctrl_y), end)


def _nose(p: QPainter, skin: QColor) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    shade = skin.darker(112)
    p.setBrush(shade)
    p.drawEllipse(QPointF(CX, 0.655), 0.036, 0.024)
    p.setBrush(skin.lighter(104))
    p.drawEllipse(QPointF(CX - 0.004, 0.648), 0.026, 0.016)
    p.setBrush(skin.darker(150))
    for side in (-1, 1):
        p.drawEllipse(QPointF(CX + side * 0.013, 0.664), 0.006, 0.004)


def _mouth(p: QPainter, m: float, happy: float, sad: float, skin: QColor) -> None:
    y0 = face_geometry.MOUTH_Y
    half = 0.062 + 0.022 * happy + 0.014 * sad
    corner_y = y0 - 0.034 * m
    mid_y = y0 + 0.016 * m
    opening = 0.105 * max(0.0, max(happy, sad) - 0.35) / 0.65
    share_up = 0.10 if m > 0 else 0.42  # laughing drops the jaw; crying also lifts the upper lip
    left = QPointF(CX - half, corner_y)
    right = QPointF(CX + half, corner_y)
    top_mid = mid_y - opening * share_up
    bottom_mid = mid_y + opening * (1.0 - share_up)
    if sad > 0.35:  # a crying mouth squares off: a flatter, wider lower lip
        bottom_mid -= 0.25 * opening * (sad - 0.35)

    lip = lip_colour(skin)
    if opening > 0.002:
        path = QPainterPath(left)
        _lip_curve(path, left, top_mid, right)
        _lip_curve(path, right, bottom_mid, left)
        path.closeSubpath()
        p.setPen(_pen(lip, 0.012))
        p.setBrush(MOUTH_INSIDE)
        p.drawPath(path)
    else:
        p.setPen(_pen(lip, 0.015))
        p.setBrush(Qt.BrushStyle.NoBrush)
        path = QPainterPath(left)
        _lip_curve(path, left, mid_y, right)
        p.drawPath(path)
    # a sad chin puckers under the mouth
    if sad > 0.2:
        chin = skin.darker(125)
        chin.setAlpha(int(200 * (sad - 0.2) / 0.8))
        p.setPen(_pen(chin, 0.006))
        p.setBrush(Qt.BrushStyle.NoBrush)
        cy = max(bottom_mid, mid_y) + 0.05
        p.drawPath(_quad(QPointF(CX - 0.03, cy), QPointF(CX, cy - 0.012), QPointF(CX + 0.03, cy)))


def _tears(p: QPainter, ident: Identity, amount: float) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(160, 205, 245, int(120 + 100 * amount)))
    for side in (-1, 1):
        x = CX + side * (ident.eye_gap + 0.03)
        y = 0.60 + 0.05 * amount
        drop = QPainterPath(QPointF(x, y - 0.03))
        drop.cubicTo(QPointF(x + 0.016, y), QPointF(x + 0.012, y + 0.016), QPointF(x, y + 0.016))
        drop.cubicTo(QPointF(x - 0.012, y + 0.016), QPointF(x - 0.016, y), QPointF(x, y - 0.03))
        p.drawPath(drop)
