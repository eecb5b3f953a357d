"""Eye-tracker stream layouts mapped to Attune's canonical gaze.

Labs run the vendor's LSL app (Tobii Pro, Pupil Labs, EyeLink, Gazepoint) and
each lays out its channels differently. The layouts live in
``configs/gaze_layouts.yaml`` with the source each was taken from; this module
recognises a stream's layout and turns its samples into canonical gaze: per
eye x, y (screen-normalised 0..1, origin top-left), pupil and validity. The
live plots, the analysis, the device check and the stimulus feedback all read
gaze through it. Pure numpy, no Qt and no pylsl import, so every package may
use it.

    layout = recognise(inlet.info())          # None: not a known gaze layout
    gaze = layout.canonical(samples)          # samples: (n, channel_count)
    x, y = gaze.point()                       # mean of the valid eyes, NaN otherwise
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from configs import CONFIG_DIR, ConfigError, Fields, load_yaml

DEFAULT_LAYOUTS = CONFIG_DIR / "gaze_layouts.yaml"
COORDINATES = ["normalised", "normalised_y_up", "pixels"]
EYE_KEYS = ("x", "y", "pupil", "valid", "confidence", "positive")
# Attune's canonical column order (the simulated tracker's and the Gazepoint adapter's layout).
CANONICAL_LABELS = ["left_x", "left_y", "left_pupil", "right_x", "right_y", "right_pupil", "left_valid", "right_valid"]
OFF_SCREEN = 1.0  # gaze farther than this outside the 0..1 screen is a tracker's "missing" code


@dataclass(frozen=True)
class LayoutSpec:
    """One layout as written in the YAML file (channel labels, not indices)."""

    name: str
    source: str
    match: tuple[str, ...]
    coordinates: str = "normalised"
    type: str | None = None
    channel_count: int | None = None  # set: a stream without labels may match by type and count
    size: tuple[float, float] = (1.0, 1.0)
    pupil_unit: str = ""
    min_confidence: float = 0.0
    left: tuple[tuple[str, str], ...] = ()  # (role, label) pairs, role in EYE_KEYS
    right: tuple[tuple[str, str], ...] = ()


@dataclass
class CanonicalGaze:
    """Gaze per eye on the screen (0..1, origin top-left); NaN where that eye is invalid."""

    left_x: np.ndarray
    left_y: np.ndarray
    left_pupil: np.ndarray
    left_valid: np.ndarray  # bool
    right_x: np.ndarray
    right_y: np.ndarray
    right_pupil: np.ndarray
    right_valid: np.ndarray

    def __len__(self) -> int:
        return len(self.left_x)

    def point(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean of the valid eyes per sample (NaN where neither eye is valid)."""
        both = self.left_valid.astype(float) + self.right_valid.astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            x = (np.where(self.left_valid, self.left_x, 0.0) + np.where(self.right_valid, self.right_x, 0.0)) / both
            y = (np.where(self.left_valid, self.left_y, 0.0) + np.where(self.right_valid, self.right_y, 0.0)) / both
        return x, y

    def valid(self) -> np.ndarray:
        """True where at least one eye is valid."""
        return self.left_valid | self.right_valid

    def as_array(self) -> np.ndarray:
        """(n, 8) float array in CANONICAL_LABELS order, validity as 0/1."""
        return np.column_stack([self.left_x, self.left_y, self.left_pupil, self.right_x, self.right_y,
                                self.right_pupil, self.left_valid.astype(float), self.right_valid.astype(float)])


@dataclass(frozen=True)
class GazeLayout:
    """A recognised layout bound to one stream's channel positions."""

    spec: LayoutSpec
    left: dict[str, int]  # role -> column index in this stream
    right: dict[str, int]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pupil_unit(self) -> str:
        return self.spec.pupil_unit

    def canonical(self, samples: np.ndarray) -> CanonicalGaze:
        """Map (n, channels) samples of this stream to canonical gaze."""
        data = np.asarray(samples, dtype=float)
        if data.ndim != 2:
            data = data.reshape(len(data), -1) if data.size else np.zeros((0, 1 + max(self.left.values())))
        lx, ly, lp, lv = self._eye(data, self.left)
        rx, ry, rp, rv = self._eye(data, self.right)
        return CanonicalGaze(lx, ly, lp, lv, rx, ry, rp, rv)

    def _eye(self, data: np.ndarray, cols: dict[str, int]) -> tuple[np.ndarray, ...]:
        spec = self.spec
        x, y = data[:, cols["x"]].copy(), data[:, cols["y"]].copy()
        if spec.coordinates == "pixels":
            x, y = x / spec.size[0], y / spec.size[1]
        elif spec.coordinates == "normalised_y_up":
            y = 1.0 - y
        pupil = data[:, cols["pupil"]].copy() if "pupil" in cols else np.full(len(data), np.nan)
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(x) & np.isfinite(y) & (np.abs(x - 0.5) <= 0.5 + OFF_SCREEN) \
                & (np.abs(y - 0.5) <= 0.5 + OFF_SCREEN)
            if "valid" in cols:
                valid &= data[:, cols["valid"]] > 0.5
            if "confidence" in cols:
                valid &= data[:, cols["confidence"]] >= spec.min_confidence
            if "positive" in cols:
                valid &= data[:, cols["positive"]] > 0
        x[~valid] = np.nan
        y[~valid] = np.nan
        pupil[~valid] = np.nan
        return x, y, pupil, valid


def _spec(name: str, fields: Fields) -> LayoutSpec:
    match = fields.items("match", lambda v, where: _label(v, fields.source, where), required=True)
    if not match:
        raise fields.error("match", "must list at least one channel label")
    size = fields.items("size", lambda v, where: _positive(v, fields.source, where), default=[1.0, 1.0])
    if len(size) != 2:
        raise fields.error("size", f"must be [width, height], got {size!r}")
    eyes = {}
    for eye in ("left", "right"):
        sec = fields.section(eye, required=True)
        pairs = tuple((key, sec.text(key)) for key in EYE_KEYS if sec.text(key) is not None)
        sec.finish()
        roles = dict(pairs)
        for needed in ("x", "y"):
            if needed not in roles:
                raise sec.error(needed, "is required (the channel label of this eye's gaze)")
        eyes[eye] = pairs
    spec = LayoutSpec(
        name=name,
        source=fields.text("source", required=True),
        match=tuple(match),
        coordinates=fields.text("coordinates", "normalised", choices=COORDINATES),
        type=fields.text("type"),
        channel_count=fields.number("channel_count", None, lo=1, hi=4096, integer=True),
        size=(size[0], size[1]),
        pupil_unit=fields.text("pupil_unit", ""),
        min_confidence=fields.number("min_confidence", 0.0, lo=0.0, hi=1.0),
        left=eyes["left"], right=eyes["right"],
    )
    fields.finish()
    for eye, pairs in (("left", spec.left), ("right", spec.right)):
        for role, label in pairs:
            if label not in spec.match:
                raise ConfigError(fields.source, f"{fields.prefix}.{eye}.{role}",
                                  f"channel {label!r} is not in match (a layout may only read channels it matches on)")
    if spec.channel_count is not None and spec.channel_count < len(spec.match):
        raise fields.error("channel_count", f"must be at least the {len(spec.match)} matched channels")
    return spec


def _label(value: Any, source: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(source, where, f"must be a channel label (text), got {value!r}")
    return value


def _positive(value: Any, source: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(source, where, f"must be a positive number, got {value!r}")
    return float(value)


def parse_layouts(data: dict, source: str | os.PathLike) -> list[LayoutSpec]:
    """Validate a layouts mapping; every error names the file and field."""
    top = Fields(data, source)
    section = top.section("layouts", required=True)
    specs = []
    for name in section.data:
        specs.append(_spec(str(name), section.section(name)))
    section.finish()
    top.finish()
    return specs


def load_layouts(path: str | os.PathLike = DEFAULT_LAYOUTS) -> list[LayoutSpec]:
    return parse_layouts(load_yaml(path), Path(path))


@functools.lru_cache(maxsize=8)
def _cached(path: str) -> tuple[LayoutSpec, ...]:
    return tuple(load_layouts(path))


def known_layouts(path: str | os.PathLike = DEFAULT_LAYOUTS) -> tuple[LayoutSpec, ...]:
    """The layouts in ``path``, read once per process."""
    return _cached(str(Path(path).resolve()))


def bind(spec: LayoutSpec, type_: str, channel_count: int, labels: list[str]) -> GazeLayout | None:
    """``spec`` bound to a stream's columns, or None when the stream does not have that layout."""
    position = {label: i for i, label in reversed(list(enumerate(labels)))}  # first occurrence wins
    if not all(label in position for label in spec.match):
        by_position = (spec.channel_count is not None and channel_count == spec.channel_count
                       and spec.type is not None and type_.casefold() == spec.type.casefold()
                       and not any(label in position for label in spec.match))
        if not by_position:
            return None
        position = {label: i for i, label in enumerate(spec.match)}
    if any(position[label] >= channel_count for label in spec.match):
        return None
    return GazeLayout(spec, {role: position[label] for role, label in spec.left},
                      {role: position[label] for role, label in spec.right})


def recognise_header(name: str, type_: str, channel_count: int, labels: list[str],
                     path: str | os.PathLike = DEFAULT_LAYOUTS) -> GazeLayout | None:
    """The first known layout a stream with these properties has (None: not gaze we know)."""
    del name  # layouts match on labels, type and count: the stream name is the operator's to choose
    for spec in known_layouts(path):
        layout = bind(spec, type_, channel_count, labels)
        if layout is not None:
            return layout
    return None


def channel_labels(info: Any) -> list[str]:
    """Channel labels from a pylsl StreamInfo's desc (empty when it carries none).

    Only an inlet's ``info()`` holds the desc; a resolved StreamInfo does not.
    """
    labels = []
    channel = info.desc().child("channels").child("channel")
    while not channel.empty() and len(labels) < info.channel_count():
        labels.append(channel.child_value("label"))
        channel = channel.next_sibling("channel")
    return labels


def recognise(info: Any, path: str | os.PathLike = DEFAULT_LAYOUTS) -> GazeLayout | None:
    """The layout of a pylsl StreamInfo (take it from ``inlet.info()`` so the labels are there)."""
    return recognise_header(info.name(), info.type(), info.channel_count(), channel_labels(info), path)
