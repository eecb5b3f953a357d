"""Sender clock resets in XDF clock offsets, found the way pyxdf finds them.

A sender whose computer restarts (or whose LSL clock is reset) during a
recording continues with stamps that jump back; its ClockOffset
measurements jump with them. Interpolating offsets across the jump maps
half the samples to nonsense times (a replay of such a file had a negative
duration). The measurements are split into segments at the jumps, and
each chunk of samples is mapped with the offsets of its own segment.
"""
from __future__ import annotations

import numpy as np

# pyxdf's defaults for telling a clock reset from jitter (load_xdf's clock_reset_threshold_*)
RESET_THRESHOLD_SECONDS, RESET_THRESHOLD_STDS = 5.0, 5.0
RESET_THRESHOLD_OFFSET_SECONDS, RESET_THRESHOLD_OFFSET_STDS = 1.0, 10.0


def _glitches(diff: np.ndarray, thresh_stds: float, thresh_secs: float) -> np.ndarray:
    """Steps that stand out from the median step by both a robust z-score and an absolute size."""
    shifted = diff - np.median(diff)
    mad = np.median(np.abs(shifted)) + np.finfo(float).eps
    return (np.abs(shifted / mad) > thresh_stds) & (np.abs(shifted) > thresh_secs)


def clock_segments(times: list[float], values: list[float]) -> list[tuple[int, int]]:
    """Index ranges (inclusive) of ClockOffset measurements between sender clock resets (pyxdf's rule)."""
    if len(times) < 2:
        return [(0, max(len(times) - 1, 0))]
    time_diff, value_diff = np.diff(times), np.diff(values)
    resets = (time_diff < 0) | (_glitches(time_diff, RESET_THRESHOLD_STDS, RESET_THRESHOLD_SECONDS)
                                & _glitches(value_diff, RESET_THRESHOLD_OFFSET_STDS, RESET_THRESHOLD_OFFSET_SECONDS))
    breaks = np.nonzero(resets)[0]
    starts = [0, *(breaks + 1).tolist()]
    ends = [*breaks.tolist(), len(times) - 1]
    return list(zip(starts, ends))


def assign_clock_segments(times: list[float], values: list[float], first_stamps: list[float]
                          ) -> tuple[list[tuple[int, int]], list[int]]:
    """(clock segments, the segment of each chunk), chunks given by their first raw stamps in file order.

    As pyxdf does: a segment ends at the first chunk whose first stamp is
    closer to the next segment's first measurement than to this one's last.
    """
    segments = clock_segments(times, values)
    chunk_segments = [0] * len(first_stamps)
    if len(segments) < 2 or not first_stamps:
        return segments, chunk_segments
    firsts = np.asarray(first_stamps)
    start = 0
    for i, (_, hi) in enumerate(segments):
        if hi + 1 < len(times):
            rest = firsts[start:]
            closer = np.abs(rest - times[hi]) < np.abs(rest - times[hi + 1])
            stop = start + (len(closer) if closer.all() else int(np.argmin(closer)))
        else:
            stop = len(firsts)
        chunk_segments[start:stop] = [i] * (stop - start)
        start = stop
    return segments, chunk_segments
