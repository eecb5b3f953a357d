"""Derived traces the live plots draw beside the raw signal: the GSR tonic level, the webcam frame rate."""
from __future__ import annotations

import math

import numpy as np

TONIC_WINDOW = 8.0  # seconds: longer than a skin conductance response (1-5 s), shorter than the drift


def tonic_level(stamps: np.ndarray, values: np.ndarray, window: float = TONIC_WINDOW, step: float = 0.25
                ) -> tuple[np.ndarray, np.ndarray]:
    """Centred moving median of a skin-conductance trace: the tonic level under the SCRs.

    Medians over ``step`` bins, then a median over ``window`` seconds of bins
    centred on each bin: responses (1-5 s) barely move it, the drift does,
    and it does not lag. The price is stated instead: it ends ``window / 2``
    seconds before the last sample, because that is when it is known.
    """
    ok = np.isfinite(values)
    stamps, values = stamps[ok], values[ok]
    if len(stamps) < 2:
        return np.zeros(0), np.zeros(0)
    bins = np.floor((stamps - stamps[0]) / step).astype(np.int64)
    edges = np.flatnonzero(np.diff(bins)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(stamps)]))
    centres = np.array([stamps[a:b].mean() for a, b in zip(starts, ends)])
    medians = np.array([np.median(values[a:b]) for a, b in zip(starts, ends)])
    k = max(1, int(round(window / step)))
    if len(medians) < k:
        return np.zeros(0), np.zeros(0)
    level = np.median(np.lib.stride_tricks.sliding_window_view(medians, k), axis=1)
    return centres[k // 2:k // 2 + len(level)], level


def frame_rate(stamps: np.ndarray, bin_seconds: float = 0.5, end: float | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Frames per second in consecutive bins (a dropping webcam shows as a dip), each at its bin's end.

    Without ``end`` the bins end at the last frame. With ``end`` (now) they are
    fixed on the clock (multiples of ``bin_seconds``) and only whole bins are
    counted, the first after the first frame up to the last one ``end`` has
    closed: a bin once drawn never changes, so a plot needs new data only once
    per bin and is moved along in between.
    """
    if len(stamps) < 2:
        return np.zeros(0), np.zeros(0)
    if end is None:
        edges = np.arange(stamps[-1], stamps[0] - 1e-9, -bin_seconds)[::-1]
    else:
        edges = np.arange(math.ceil(stamps[0] / bin_seconds), math.floor(end / bin_seconds) + 1) * bin_seconds
    if len(edges) < 2:
        return np.zeros(0), np.zeros(0)
    counts, _ = np.histogram(stamps, bins=edges)
    return edges[1:], counts / bin_seconds
