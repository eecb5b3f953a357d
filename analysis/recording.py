"""One recording loaded for analysis: markers and signals on one clock (pyxdf).

pyxdf synchronises every stream onto the recorder's clock (its ClockOffset
chunks) and dejitters regular streams; the whole file is read into memory,
which analysis needs anyway. Before that, the reading-side index
(acquisition.xdf_index) says whether the file is XDF at all and whether it
was cut off, so the messages can name what is wrong. Streams are found by
type: "Markers" (JSON task events), "GSR"/"EDA", "FacialExpression"; gaze is
any stream whose channels match a known eye-tracker layout (Tobii, Pupil Labs,
EyeLink, Gazepoint, Attune: configs/gaze_layouts.yaml), mapped to Attune's
canonical columns so the rest of the analysis reads every tracker alike.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyxdf

from acquisition.xdf_index import XDFError, build_index
from devices.gaze_layouts import CANONICAL_LABELS, recognise_header


class AnalysisError(ValueError):
    """A recording cannot be analysed; the message names the file and what is missing."""


@dataclass
class Signal:
    name: str
    times: np.ndarray
    values: np.ndarray  # (n, channels)
    labels: list[str]


@dataclass
class Recording:
    path: Path
    markers: list[tuple[float, dict]]  # (time, JSON object), sorted by time
    gsr: Signal | None = None
    gaze: Signal | None = None
    expression: Signal | None = None
    truncated: bool = False
    end_time: float = 0.0  # last sample time over all streams
    labels: dict[str, str] = field(default_factory=dict)  # participant, session, task, run
    notes: list[str] = field(default_factory=list)


BIDS_FIELD = re.compile(r"(sub|ses|task|run|acq)-([A-Za-z0-9]+)")
FIELD_NAMES = {"sub": "participant", "ses": "session", "task": "task", "run": "run", "acq": "acq"}


def labels_from_name(path: Path) -> dict[str, str]:
    """participant/session/task/run from a BIDS-style file name (sub-01_ses-pre_task-rating_...)."""
    return {FIELD_NAMES[k]: v for k, v in BIDS_FIELD.findall(path.stem)}


def _labels(info: dict) -> list[str]:
    try:
        channels = info["desc"][0]["channels"][0]["channel"]
        return [ch["label"][0] for ch in channels]
    except (KeyError, IndexError, TypeError):
        return []


def _signal(stream: dict) -> Signal:
    info = stream["info"]
    return Signal(info["name"][0], np.asarray(stream["time_stamps"], dtype=float),
                  np.asarray(stream["time_series"], dtype=float), _labels(info))


def _gaze(streams: list[dict]) -> tuple[Signal, str] | None:
    """The longest stream with a known gaze layout, in canonical columns, and its layout's name."""
    found = []
    for s in streams:
        info = s["info"]
        if info["channel_format"][0] == "string" or not len(s["time_stamps"]):
            continue
        layout = recognise_header(info["name"][0], info["type"][0], int(info["channel_count"][0]), _labels(info))
        if layout is not None:
            found.append((s, layout))
    if not found:
        return None
    stream, layout = max(found, key=lambda pair: len(pair[0]["time_stamps"]))
    values = layout.canonical(np.asarray(stream["time_series"], dtype=float)).as_array()
    return Signal(stream["info"]["name"][0], np.asarray(stream["time_stamps"], dtype=float), values,
                  list(CANONICAL_LABELS)), layout.name


def _task_markers(stream: dict) -> list[tuple[float, dict]]:
    out = []
    for t, sample in zip(stream["time_stamps"], stream["time_series"]):
        try:
            value = json.loads(sample[0])
        except (ValueError, TypeError, IndexError):
            continue
        if isinstance(value, dict) and "event" in value:
            out.append((float(t), value))
    return out


def load(path: str | Path) -> Recording:
    """Read and check one file; raises AnalysisError naming what is wrong."""
    path = Path(path)
    try:
        index = build_index(path)
    except XDFError as exc:
        raise AnalysisError(str(exc)) from exc
    if not index.streams:
        raise AnalysisError(f"{path}: no readable streams in the file"
                            + (f"\n{index.summary()}" if index.problems else ""))
    logging.getLogger("pyxdf").setLevel(logging.CRITICAL)  # damage is reported below, by us
    try:
        streams, _ = pyxdf.load_xdf(str(path), synchronize_clocks=True, dejitter_timestamps=True)
    except Exception as exc:  # pyxdf raises plain errors on damage it cannot skip
        detail = f"\n{index.summary()}" if index.problems else ""
        raise AnalysisError(f"{path}: cannot be read as XDF: {exc}{detail}") from exc
    by_type: dict[str, list[dict]] = {}
    for s in streams:
        by_type.setdefault(s["info"]["type"][0].casefold(), []).append(s)
    found = ", ".join(f"{s['info']['name'][0]} ({s['info']['type'][0]})" for s in streams)
    markers: list[tuple[float, dict]] = []
    for s in by_type.get("markers", []):
        markers.extend(_task_markers(s))
    if not markers:
        raise AnalysisError(f"{path}: missing marker stream: no stream of type 'Markers' with task events "
                            f"(JSON with an 'event' field); the file has: {found}")
    markers.sort(key=lambda m: (m[0], m[1].get("seq", 0)))
    rec = Recording(path, markers, labels=labels_from_name(path), truncated=index.truncated)
    for kind, attr in (("gsr", "gsr"), ("eda", "gsr"), ("facialexpression", "expression")):
        candidates = [s for s in by_type.get(kind, []) if len(s["time_stamps"])]
        if candidates and getattr(rec, attr) is None:
            setattr(rec, attr, _signal(max(candidates, key=lambda s: len(s["time_stamps"]))))
    gaze = _gaze(streams)
    if gaze is not None:
        rec.gaze = gaze[0]
        if gaze[1] != "attune":
            rec.notes.append(f"gaze from {rec.gaze.name} read as the {gaze[1]} layout")
    ends = [float(s["time_stamps"][-1]) for s in streams if len(s["time_stamps"])]
    rec.end_time = max(ends) if ends else 0.0
    if index.problems:
        rec.notes.append(index.summary())
    if index.truncated:
        rec.notes.append(f"the file is cut off (no end, no footers); analysed up to "
                         f"{rec.end_time - markers[0][0]:.1f} s after the first marker")
    for attr, what in (("gsr", "GSR"), ("gaze", "Gaze"), ("expression", "FacialExpression")):
        if getattr(rec, attr) is None:
            rec.notes.append(f"no {what} stream: its columns are empty")
    return rec
