"""Where the built-in faces put their features: the one home of that geometry.

Coordinates are fractions of the square face image (0..1, origin top-left).
The drawing (stimulus/faces.py), the gaze regions of the analysis and of the
live feedback (analysis/regions.py) and the simulated participant's gaze
(devices/body.py) all take their numbers from here, so moving a feature
moves every one of them. Plain numbers and numpy, no Qt: analysis and devices
import it without a display.
"""
from __future__ import annotations

import numpy as np

CENTRE_X = 0.5  # the face's vertical midline
HEAD_CENTRE_Y = 0.50
HEAD_HALF_AXES_MAX = (0.335, 0.375)  # the widest and tallest head of the identities
EYE_Y = 0.555  # eye centres
EYE_GAP_RANGE = (0.112, 0.128)  # eye centre to midline, over the identities
MOUTH_Y = 0.765  # top of the mouth (the lips' meeting line at neutral)

#: Gaze regions (x0, y0, x1, y1) covering the features for every identity and
#: morph level, with about 0.02 of the image as margin for eye-tracker accuracy.
EYES = (0.30, 0.48, 0.70, 0.62)  # both eyes and their lids
MOUTH = (0.39, 0.70, 0.61, 0.88)  # closed to wide open
HEAD = (CENTRE_X, HEAD_CENTRE_Y, 0.35, 0.39)  # an ellipse: centre x, centre y, half-width, half-height

#: Points a simulated viewer looks at: each eye, the mouth, and uninformative skin.
EYE_POINTS = ((CENTRE_X - 0.12, EYE_Y), (CENTRE_X + 0.12, EYE_Y))
MOUTH_POINT = (CENTRE_X, MOUTH_Y + 0.005)
ELSEWHERE_POINTS = ((CENTRE_X, 0.3), (0.26, 0.68), (0.74, 0.68))  # forehead and cheeks


def to_image(x: np.ndarray, y: np.ndarray, rect: tuple[float, float, float, float]
             ) -> tuple[np.ndarray, np.ndarray]:
    """Screen-normalised points to the face image's own 0..1 coordinates."""
    x0, y0, x1, y1 = rect
    return (np.asarray(x) - x0) / (x1 - x0), (np.asarray(y) - y0) / (y1 - y0)


def in_box(u: np.ndarray, v: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    return (u >= box[0]) & (u <= box[2]) & (v >= box[1]) & (v <= box[3])


def classify(x: np.ndarray, y: np.ndarray, rect: tuple[float, float, float, float]) -> dict[str, np.ndarray]:
    """For each point: is it on the face, the eyes, the mouth (boolean arrays)."""
    u, v = to_image(x, y, rect)
    eyes, mouth = in_box(u, v, EYES), in_box(u, v, MOUTH)
    cx, cy, a, b = HEAD
    head = ((u - cx) / a) ** 2 + ((v - cy) / b) ** 2 <= 1.0
    return {"face": head | eyes | mouth, "eyes": eyes, "mouth": mouth}


def _check() -> None:
    """The regions must hold the features they are named after (a cheap guard against drift)."""
    for x, y in EYE_POINTS:
        assert EYES[0] <= x <= EYES[2] and EYES[1] <= y <= EYES[3]
    for gap in EYE_GAP_RANGE:
        assert EYES[0] < CENTRE_X - gap and CENTRE_X + gap < EYES[2]
    assert MOUTH[0] <= MOUTH_POINT[0] <= MOUTH[2] and MOUTH[1] <= MOUTH_POINT[1] <= MOUTH[3]
    assert HEAD[2] >= HEAD_HALF_AXES_MAX[0] and HEAD[3] >= HEAD_HALF_AXES_MAX[1]


_check()
