"""Behavioural results as a BIDS-style events file, built from the markers themselves.

The TSV is derived from the list of markers the run sent, never from a
second bookkeeping, so the file and the recording cannot disagree. One row
per shown screen (fixation, face, rating scale or choice buttons, feedback,
instructions, breaks, summaries) with its measured duration, plus one row
per response or time-out. Face rows also carry the trial's outcome, so
``trial_type == "face"`` alone gives one line per trial for analysis.

``onset`` counts seconds from an origin, as BIDS wants: the task's first
marker (protocol_start) for the live file written beside a recording, and the
first sample of the data file in a BIDS export (``analysis.bids`` passes that
origin). ``lsl_time`` keeps every event's absolute time on the stimulus
computer's LSL clock, the same clock as the marker stream in the XDF
recording, so the two can always be matched. A JSON sidecar says so.
"""
from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from stimulus.markers import Marker

COLUMNS = ("onset", "duration", "trial_type", "stimulus", "morph_level", "rating", "response_time",
           "correct", "response", "identity", "emotion", "block", "trial", "lsl_time")
FIRST_MARKER = "the task's first marker (protocol_start)"

#: screen name -> (event that shows it, event that ends it)
SPANS = {
    "fixation": ("fixation_onset", "face_onset"),
    "face": ("face_onset", "face_offset"),
    "rating": ("rating_onset", "rating_offset"),
    "choice": ("choice_onset", "choice_offset"),
    "feedback": ("feedback_onset", "feedback_offset"),
    "instructions": ("instructions_onset", "instructions_offset"),
    "break": ("break_onset", "break_offset"),
    "summary": ("summary_onset", "summary_offset"),
}
_STARTS = {start: name for name, (start, _) in SPANS.items()}
_ENDS: dict[str, list[str]] = {}
for _name, (_, _end) in SPANS.items():
    _ENDS.setdefault(_end, []).append(_name)

SIDECAR = {
    "onset": {"Description": "Time the screen appeared (flip time) or the response arrived, in "
                             "seconds from {origin}.",
              "Units": "s"},
    "duration": {"Description": "Measured time the screen stayed up (next flip minus this flip); "
                                "0 for responses.", "Units": "s"},
    "trial_type": {"Description": "What happened.",
                   "Levels": {"fixation": "fixation cross", "face": "infant face",
                              "rating": "rating scale", "choice": "sad/neutral/happy buttons",
                              "feedback": "corrective feedback", "response": "participant answered",
                              "timeout": "no answer in time", "instructions": "instructions",
                              "break": "break", "summary": "training block summary"}},
    "stimulus": {"Description": "Face image file (built-in faces: builtin/<identity>_m<morph>.png)."},
    "morph_level": {"Description": "Position on the face continuum: -1 clearly sad, 0 neutral, "
                                   "+1 clearly happy."},
    "rating": {"Description": "Visual analogue scale answer, 0 very sad to 100 very happy."},
    "response_time": {"Description": "From the rating scale or choice buttons appearing to the answer.",
                      "Units": "s"},
    "correct": {"Description": "Training: 1 if the choice matched the face's emotion, else 0."},
    "response": {"Description": "Training: the chosen emotion."},
    "identity": {"Description": "Which baby."},
    "emotion": {"Description": "The face's category: sad, neutral or happy."},
    "block": {"Description": "Block name from the protocol."},
    "trial": {"Description": "Trial number within the block."},
    "lsl_time": {"Description": "The event's absolute time in seconds on the LSL clock (pylsl.local_clock) of "
                                "the stimulus computer: the same clock as the marker stream in the XDF "
                                "recording. onset = lsl_time minus the origin named in onset's description.",
                 "Units": "s"},
}


def sidecar(origin: str = FIRST_MARKER) -> dict[str, Any]:
    """The JSON sidecar, with ``onset`` described from ``origin``."""
    out = json.loads(json.dumps(SIDECAR))
    out["onset"]["Description"] = out["onset"]["Description"].format(origin=origin)
    return out


def rows_from_markers(markers: Iterable[Marker]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    open_rows: dict[str, dict[str, Any]] = {}
    outcome: dict[tuple, Marker] = {}
    for m in markers:
        for name in _ENDS.get(m.event, ()):
            row = open_rows.pop(name, None)
            if row is not None:
                row["duration"] = m.timestamp - row["onset"]
        if m.event in _STARTS:
            name = _STARTS[m.event]
            row = _row(m, name)
            if name in ("face", "feedback"):
                row.update(stimulus=m.get("file"), morph_level=m.get("morph"),
                           identity=m.get("identity"), emotion=m.get("emotion"))
            rows.append(row)
            open_rows[name] = row
        elif m.event in ("response", "timeout"):
            row = _row(m, m.event)
            row["duration"] = 0.0
            _fill_outcome(row, m)
            rows.append(row)
            outcome[(m.get("block"), m.get("trial"))] = m
    for row in rows:
        if row["trial_type"] in ("face", "rating", "choice", "feedback"):
            m = outcome.get((row["block"], row["trial"]))
            if m is not None:
                _fill_outcome(row, m)
    return rows


def _row(m: Marker, trial_type: str) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in COLUMNS}
    row.update(onset=m.timestamp, lsl_time=m.timestamp, trial_type=trial_type, block=m.get("block"),
               trial=m.get("trial"))
    return row


def _fill_outcome(row: dict[str, Any], m: Marker) -> None:
    if m.event == "response":
        row["rating"] = m.get("value")
        row["response_time"] = m.get("rt")
        row["response"] = m.get("choice")
    if m.get("correct") is not None:
        row["correct"] = int(bool(m.get("correct")))


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return "0" if text == "-0" else text
    return str(value)


def unique_path(path: Path) -> Path:
    """``path``, or ``name-2.tsv``, ``name-3.tsv``... if it exists: never overwrite a result."""
    if not path.exists():
        return path
    n = 2
    while True:
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists():
            return candidate
        n += 1


def write_events_tsv(path: str | os.PathLike, markers: Iterable[Marker], origin: float | None = None,
                     origin_text: str = FIRST_MARKER) -> Path:
    """Write the TSV and its JSON sidecar; returns the TSV path actually used.

    Onsets count from ``origin`` (LSL-clock seconds; default: the first marker's time),
    which ``origin_text`` names in the sidecar.
    """
    path = unique_path(Path(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    markers = list(markers)
    rows = rows_from_markers(markers)
    if origin is None:
        origin = min((m.timestamp for m in markers), default=0.0)
    for row in rows:
        row["onset"] = row["lsl_time"] - origin
    with path.open("x", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_cell(row[c]) for c in COLUMNS])
    side = path.with_suffix(".json")
    if not side.exists():
        side.write_text(json.dumps(sidecar(origin_text), indent=2) + "\n", encoding="utf-8")
    return path


def read_events_tsv(path: str | os.PathLike) -> list[dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))
