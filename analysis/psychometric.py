"""The psychometric function of rating against morph level: a logistic fit per participant and session.

    rating(m) = 100 / (1 + exp(-k (m - pse)))

``pse`` is the point of subjective neutrality: the morph level rated 50 (a
negative bias moves it toward happy, > 0). ``slope`` is the curve's
steepness there in rating points per morph unit (25 k), how sharply faces are
told apart. Least squares on the 0-100 ratings (scipy.optimize.curve_fit),
with R^2 and the RMSE of the residuals (rating points) as fit quality.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

MIN_RATINGS = 6
MIN_LEVELS = 3
NAN = float("nan")


@dataclass(frozen=True)
class Fit:
    pse: float  # morph level rated 50
    slope: float  # rating points per morph unit at the PSE
    r2: float
    rmse: float  # rating points
    n: int  # ratings fitted
    note: str = ""  # why there is no fit

    @property
    def ok(self) -> bool:
        return not self.note


def logistic(m: np.ndarray, pse: float, k: float) -> np.ndarray:
    return 100.0 / (1.0 + np.exp(-k * (np.asarray(m, dtype=float) - pse)))


def fit(morphs, ratings) -> Fit:
    """Fit one participant-session's ratings; a fit that cannot be made says why in ``note``."""
    m = np.asarray(morphs, dtype=float)
    y = np.asarray(ratings, dtype=float)
    good = np.isfinite(m) & np.isfinite(y)
    m, y = m[good], y[good]
    if len(y) < MIN_RATINGS or len(np.unique(m)) < MIN_LEVELS:
        return Fit(NAN, NAN, NAN, NAN, len(y), f"too few ratings ({len(y)}) or morph levels to fit")
    try:
        (pse, k), _ = curve_fit(logistic, m, y, p0=(0.0, 3.0), bounds=((-2.0, 0.01), (2.0, 200.0)), maxfev=5000)
    except (RuntimeError, ValueError) as exc:
        return Fit(NAN, NAN, NAN, NAN, len(y), f"fit failed: {exc}")
    residual = y - logistic(m, pse, k)
    total = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual ** 2)) / total if total > 0 else NAN
    return Fit(float(pse), 25.0 * float(k), r2, math.sqrt(float(np.mean(residual ** 2))), len(y))
