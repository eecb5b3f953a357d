"""Fixations from screen gaze by the velocity-threshold method (I-VT).

Follows the Tobii I-VT fixation filter (Olsen 2012): gaps in the gaze
shorter than 75 ms are filled by interpolation; the two eyes are averaged
(one eye when the other is invalid); angular velocity is measured over a
20 ms window; samples below 30 deg/s are fixation samples; neighbouring
fixations less than 75 ms and 0.5 deg apart are merged; fixations shorter
than 100 ms are dropped. Degrees need the screen's physical size and the
viewing distance: a 47.4 x 29.6 cm screen (22", 16:10) at 65 cm unless told.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VELOCITY_THRESHOLD = 30.0  # deg/s
VELOCITY_WINDOW = 0.020  # s
MAX_GAP = 0.075  # s, gaps filled by interpolation
MERGE_TIME = 0.075  # s
MERGE_ANGLE = 0.5  # deg
MIN_DURATION = 0.100  # s


@dataclass(frozen=True)
class Viewing:
    screen_width_cm: float = 47.4
    screen_height_cm: float = 29.6
    distance_cm: float = 65.0

    def degrees(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Screen-normalised gaze to visual angle from the screen centre."""
        ax = np.degrees(np.arctan((np.asarray(x) - 0.5) * self.screen_width_cm / self.distance_cm))
        ay = np.degrees(np.arctan((np.asarray(y) - 0.5) * self.screen_height_cm / self.distance_cm))
        return ax, ay


@dataclass(frozen=True)
class Fixations:
    """Parallel arrays: start and end time (s), mean screen-normalised position."""

    start: np.ndarray
    end: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.start)


def binocular(gaze: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average of the valid eyes per sample (NaN where neither is valid).

    Columns: left_x, left_y, left_pupil, right_x, right_y, right_pupil, left_valid, right_valid.
    """
    lx, ly, rx, ry = gaze[:, 0], gaze[:, 1], gaze[:, 3], gaze[:, 4]
    lv = (gaze[:, 6] > 0.5) & np.isfinite(lx) & np.isfinite(ly)
    rv = (gaze[:, 7] > 0.5) & np.isfinite(rx) & np.isfinite(ry)
    both = lv.astype(float) + rv.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (np.where(lv, lx, 0.0) + np.where(rv, rx, 0.0)) / both
        y = (np.where(lv, ly, 0.0) + np.where(rv, ry, 0.0)) / both
    return x, y


def fill_gaps(t: np.ndarray, v: np.ndarray, max_gap: float = MAX_GAP) -> np.ndarray:
    """Linear interpolation over runs of NaN shorter than ``max_gap`` seconds."""
    bad = ~np.isfinite(v)
    if not bad.any() or bad.all():
        return v
    out = v.copy()
    edges = np.diff(np.concatenate(([0], bad.astype(np.int8), [0])))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    for s, e in zip(starts, ends):
        if s == 0 or e == len(v):
            continue
        if t[e] - t[s - 1] <= max_gap:
            out[s:e] = np.interp(t[s:e], [t[s - 1], t[e]], [v[s - 1], v[e]])
    return out


def detect(t: np.ndarray, x: np.ndarray, y: np.ndarray, viewing: Viewing = Viewing()) -> Fixations:
    """I-VT fixations from binocular screen gaze ``x``, ``y`` at times ``t``."""
    empty = Fixations(*(np.empty(0) for _ in range(4)))
    if len(t) < 3:
        return empty
    x, y = fill_gaps(t, x), fill_gaps(t, y)
    ax, ay = viewing.degrees(x, y)
    rate = (len(t) - 1) / (t[-1] - t[0]) if t[-1] > t[0] else 0.0
    half = max(1, int(round(VELOCITY_WINDOW * rate / 2)))
    velocity = np.full(len(t), np.nan)
    dist = np.hypot(ax[2 * half:] - ax[:-2 * half], ay[2 * half:] - ay[:-2 * half])
    velocity[half:-half] = dist / (t[2 * half:] - t[:-2 * half])
    slow = velocity < VELOCITY_THRESHOLD  # NaN compares False: invalid gaze is no fixation
    edges = np.diff(np.concatenate(([0], slow.astype(np.int8), [0])))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1
    merged: list[list[int]] = []
    for s, e in zip(starts, ends):
        if merged:
            ps, pe = merged[-1]
            gap = t[s] - t[pe]
            angle = np.hypot(np.nanmean(ax[s:e + 1]) - np.nanmean(ax[ps:pe + 1]),
                             np.nanmean(ay[s:e + 1]) - np.nanmean(ay[ps:pe + 1]))
            if gap < MERGE_TIME and angle < MERGE_ANGLE:
                merged[-1][1] = e
                continue
        merged.append([s, e])
    keep = [(s, e) for s, e in merged if t[e] - t[s] >= MIN_DURATION]
    if not keep:
        return empty
    s_idx = np.array([s for s, _ in keep])
    e_idx = np.array([e for _, e in keep])
    xs = np.array([np.nanmean(x[s:e + 1]) for s, e in keep])
    ys = np.array([np.nanmean(y[s:e + 1]) for s, e in keep])
    return Fixations(t[s_idx], t[e_idx], xs, ys)
