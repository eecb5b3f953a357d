"""Gaze stream layouts: which eye tracker an LSL stream comes from, and its samples in one form.

``recognise(info)`` looks at a stream's description and returns the layout
that reads it, or None; ``layout.canonical(samples)`` turns a chunk of that
stream's samples (rows = samples) into ``CanonicalGaze``: per eye, x and y
screen-normalised (0..1, origin top-left), pupil diameter and validity.

This version knows the simulated eye tracker (devices/eyetracker.py) only;
the full set of layouts (Tobii, Pupil Labs, EyeLink, Gazepoint) keeps this
module's name and API.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pylsl

from devices.eyetracker import CHANNELS as SIM_CHANNELS


@dataclass(frozen=True)
class CanonicalGaze:
    """Samples in one form; every array has one row per sample and one column per eye (left, right)."""

    x: np.ndarray
    y: np.ndarray
    pupil: np.ndarray
    valid: np.ndarray  # bool

    def point(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Binocular gaze (x, y) and whether any eye was valid: the mean of the valid eyes."""
        ok = self.valid & np.isfinite(self.x) & np.isfinite(self.y)
        n = ok.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            x = np.where(ok, self.x, 0.0).sum(axis=1) / n
            y = np.where(ok, self.y, 0.0).sum(axis=1) / n
        return x, y, n > 0


@dataclass(frozen=True)
class GazeLayout:
    """Where each canonical value sits in a stream's channels (column indices)."""

    name: str
    x: tuple[int, int]
    y: tuple[int, int]
    pupil: tuple[int, int]
    valid: tuple[int, int] | None  # None: an eye is valid when its coordinates are numbers

    def canonical(self, samples: np.ndarray) -> CanonicalGaze:
        data = np.asarray(samples, dtype=float).reshape(-1, max(self.columns(), 1))
        x, y, pupil = data[:, list(self.x)], data[:, list(self.y)], data[:, list(self.pupil)]
        if self.valid is not None:
            valid = data[:, list(self.valid)] > 0.5
        else:
            valid = np.isfinite(x) & np.isfinite(y)
        return CanonicalGaze(x=x, y=y, pupil=pupil, valid=valid & np.isfinite(x) & np.isfinite(y))

    def columns(self) -> int:
        return 1 + max(*self.x, *self.y, *self.pupil, *(self.valid or (0,)))


SIMULATED = GazeLayout("simulated", x=(0, 3), y=(1, 4), pupil=(2, 5), valid=(6, 7))


def channel_labels(info: pylsl.StreamInfo) -> list[str]:
    """The channel labels in a stream's ``desc/channels`` (empty strings where missing)."""
    labels = []
    channel = info.desc().child("channels").child("channel")
    while not channel.empty() and len(labels) < info.channel_count():
        labels.append(channel.child_value("label"))
        channel = channel.next_sibling("channel")
    return labels


def recognise(info: pylsl.StreamInfo) -> GazeLayout | None:
    """The layout that reads this stream, or None when it is no gaze stream known here."""
    if channel_labels(info) == [c.label for c in SIM_CHANNELS] and info.channel_count() == SIMULATED.columns():
        return SIMULATED
    return None
