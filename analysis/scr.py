"""Skin conductance responses to stimuli by the trough-to-peak (TTP) method.

Why TTP and not neurokit2: on trial-paced data (a face every few seconds)
responses overlap, and neurokit2's peak finders on these signals missed or
halved responses of known size; TTP on the low-passed raw signal is the
field's standard event-related score (Boucsein 2012): a trough whose time
falls in the latency window after stimulus onset (1-4 s here), then the
next peak (within the rise limit); amplitude = peak - trough, kept if at
least 0.01 uS; of several candidates in the window the largest counts. The signal is low-passed at
2 Hz (zero phase), which moves detected onsets about 0.15 s earlier. An
SCR that starts on an already rising baseline has no trough: there its
onset is where the slope rises past 0.05 uS/s.
A face without such a response scores amplitude 0 (the "magnitude"
convention) and no latency.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfiltfilt

WINDOW = (1.0, 4.0)  # SCR onset latency window after the stimulus, seconds
MIN_AMPLITUDE = 0.01  # microsiemens
MAX_RISE = 5.0  # seconds from trough to peak at most
LOWPASS_HZ = 2.0
ONSET_SLOPE = 0.05  # uS/s; a rise steeper than this starts a response


@dataclass(frozen=True)
class SCR:
    amplitude: float  # microsiemens, 0 when no response
    latency: float  # onset (trough) after the stimulus, seconds; NaN when none
    peak_latency: float  # peak after the stimulus, seconds; NaN when none


NO_RESPONSE = SCR(0.0, float("nan"), float("nan"))


def smooth(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Zero-phase low-pass: keeps SCR shape and timing, removes sensor noise."""
    if len(values) < 30:
        return values.astype(float)
    rate = (len(times) - 1) / (times[-1] - times[0]) if times[-1] > times[0] else 0.0
    if rate <= 2 * LOWPASS_HZ:
        return values.astype(float)
    sos = butter(2, LOWPASS_HZ, fs=rate, output="sos")
    filled = np.asarray(values, dtype=float)
    if np.isnan(filled).any():
        good = ~np.isnan(filled)
        filled = np.interp(times, times[good], filled[good]) if good.any() else np.zeros_like(filled)
    return sosfiltfilt(sos, filled)


def responses(times: np.ndarray, smoothed: np.ndarray, onsets: np.ndarray,
              window: tuple[float, float] = WINDOW, ends: np.ndarray | None = None) -> list[SCR]:
    """One SCR per stimulus onset (times on the same clock as ``times``).

    ``ends`` (one per onset, e.g. the next stimulus's onset) closes a window early,
    so a response to the next face is not scored for this one.
    """
    if len(times) < 3:
        return [NO_RESPONSE for _ in onsets]
    slope = np.diff(smoothed) / np.diff(times)
    # troughs: slope turns from <= 0 to > 0; peaks: from > 0 to <= 0
    troughs = np.nonzero((slope[:-1] <= 0) & (slope[1:] > 0))[0] + 1
    # on a rising baseline an SCR has no trough: its onset is where the slope jumps past ONSET_SLOPE
    starts = np.nonzero((slope[:-1] <= ONSET_SLOPE) & (slope[1:] > ONSET_SLOPE))[0] + 1
    troughs = np.union1d(troughs, starts)
    peaks = np.nonzero((slope[:-1] > 0) & (slope[1:] <= 0))[0] + 1
    out = []
    for i, onset in enumerate(onsets):
        close = onset + window[1] if ends is None else min(onset + window[1], float(ends[i]))
        lo, hi = np.searchsorted(times[troughs], [onset + window[0], close], side="left")
        found = NO_RESPONSE
        for trough in troughs[lo:hi]:
            k = np.searchsorted(peaks, trough, side="right")
            if k >= len(peaks):
                break
            peak = peaks[k]
            if times[peak] - times[trough] > MAX_RISE:
                continue
            amplitude = float(smoothed[peak] - smoothed[trough])
            if amplitude >= MIN_AMPLITUDE and amplitude > found.amplitude:
                found = SCR(amplitude, float(times[trough] - onset), float(times[peak] - onset))
        out.append(found)
    return out
