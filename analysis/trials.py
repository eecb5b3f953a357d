"""Per-trial table from the task markers and the signals around each face.

A trial is keyed by (block, trial) as the task runner marks it: trial_start,
fixation_onset, face_onset (identity, morph, emotion, file), face_offset,
then response (value 0-100 or choice, rt) or timeout, and in training
feedback_onset. Measures per face:

- rating / choice, correct, reaction time (s) from the response marker;
- SCR amplitude (uS) and onset/peak latency (s), 1-4 s window closed early at
  the next face's onset (analysis.scr); empty when that leaves less than 0.5 s
  (faces closer than 1.5 s, as at demo speeds) or the GSR ends first;
- dwell time (s) of I-VT fixations on the face, the eyes and the mouth
  while the face is shown (analysis.fixations, analysis.regions);
- mean smile and valence of the participant's facial expression while the
  face is shown, when an expression stream was recorded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis import fixations as ivt
from analysis import regions, scr
from analysis.recording import Recording

COLUMNS = [
    "participant", "session", "task", "run", "block", "trial", "number", "identity", "morph", "emotion",
    "stimulus", "face_onset_s", "face_duration_s", "rating", "choice", "correct", "rt_s", "timed_out",
    "scr_amplitude_us", "scr_latency_s", "scr_peak_latency_s",
    "dwell_face_s", "dwell_eyes_s", "dwell_mouth_s", "gaze_valid_fraction",
    "smile_mean", "valence_mean",
]
NAN = float("nan")
MIN_SCR_WINDOW = 0.5  # seconds of SCR onset window at least (after the 1 s latency, before the next face)


@dataclass
class Settings:
    display: regions.Display = regions.Display()
    viewing: ivt.Viewing = ivt.Viewing()


def _trials(rec: Recording) -> list[dict]:
    """Gather each trial's markers into one row (times on the recording clock)."""
    rows: dict[tuple, dict] = {}
    task = ""
    for t, m in rec.markers:
        event = m.get("event")
        if event == "protocol_start":
            task = str(m.get("task", ""))
        if "trial" not in m or "block" not in m:
            continue
        key = (m["block"], m["trial"])
        row = rows.setdefault(key, {"block": m["block"], "trial": m["trial"], "task_marker": task})
        if event == "trial_start":
            row.update(number=m.get("number"), identity=m.get("identity"), morph=m.get("morph"))
        elif event == "face_onset":
            row.update(onset=t, identity=m.get("identity", row.get("identity")),
                       morph=m.get("morph", row.get("morph")), emotion=m.get("emotion"),
                       stimulus=m.get("file"), face_rect=m.get("face_rect"))
        elif event == "face_offset":
            row["offset"] = t
        elif event == "response":
            row.update(rating=m.get("value"), choice=m.get("choice"), rt=m.get("rt"),
                       correct=m.get("correct"), timed_out=False)
        elif event == "timeout":
            row.update(timed_out=True, correct=m.get("correct"))
    return [r for r in rows.values() if "onset" in r]


def _mean_in(signal, start: float, end: float, column: int) -> float:
    if signal is None:
        return NAN
    lo, hi = np.searchsorted(signal.times, [start, end])
    part = signal.values[lo:hi, column] if hi > lo else np.empty(0)
    part = part[np.isfinite(part)]
    return float(part.mean()) if len(part) else NAN


def _label_column(signal, name: str, default: int) -> int:
    return signal.labels.index(name) if signal is not None and name in signal.labels else default


def table(rec: Recording, settings: Settings = Settings()) -> list[dict]:  # noqa: B008 (frozen dataclass)
    """One row per face shown, in time order, with every column of COLUMNS."""
    trials = sorted(_trials(rec), key=lambda r: r["onset"])
    t0 = rec.markers[0][0]
    shown = [t["offset"] - t["onset"] for t in trials if "offset" in t]
    typical = float(np.median(shown)) if shown else 1.0
    for t in trials:
        t.setdefault("offset", min(t["onset"] + typical, rec.end_time))

    onsets = np.array([t["onset"] for t in trials])
    scores: list[scr.SCR] = [scr.NO_RESPONSE] * len(trials)
    gsr_end = -math.inf
    if rec.gsr is not None and len(onsets):
        smoothed = scr.smooth(rec.gsr.times, rec.gsr.values[:, 0])
        ends = np.append(onsets[1:], np.inf)  # the next face's onset closes the window
        scores = scr.responses(rec.gsr.times, smoothed, onsets, ends=ends)
        gsr_end = float(rec.gsr.times[-1])

    fix = None
    if rec.gaze is not None and rec.gaze.values.shape[1] >= 8:
        gx, gy = ivt.binocular(rec.gaze.values)
        fix = ivt.detect(rec.gaze.times, gx, gy, settings.viewing)
    smile = _label_column(rec.expression, "smile", 0)
    valence = _label_column(rec.expression, "valence", 1)

    rows = []
    for i, (t, response) in enumerate(zip(trials, scores)):
        start, end = t["onset"], t["offset"]
        row = {c: "" for c in COLUMNS}
        row.update({k: rec.labels.get(k, "") for k in ("participant", "session", "task", "run")})
        if not row["task"]:
            row["task"] = t.get("task_marker", "")
        for key in ("block", "trial", "number", "identity", "morph", "emotion", "stimulus",
                    "rating", "choice", "correct"):
            value = t.get(key)
            row[key] = "" if value is None else value
        row["face_onset_s"] = round(start - t0, 4)
        row["face_duration_s"] = round(end - start, 4)
        row["rt_s"] = t.get("rt") if t.get("rt") is not None else NAN
        row["timed_out"] = bool(t.get("timed_out", False))
        window_open = (onsets[i + 1] if i + 1 < len(onsets) else math.inf) - start - scr.WINDOW[0]
        if gsr_end >= start + scr.WINDOW[1] + 1.0 and window_open >= MIN_SCR_WINDOW:
            row["scr_amplitude_us"] = round(response.amplitude, 4)
            row["scr_latency_s"] = round(response.latency, 3)
            row["scr_peak_latency_s"] = round(response.peak_latency, 3)
        else:  # no GSR, the recording ends before the response window does, or the next face comes too soon
            row["scr_amplitude_us"] = row["scr_latency_s"] = row["scr_peak_latency_s"] = NAN
        row.update(_dwell(rec, fix, start, end, t.get("face_rect"), settings))
        row["smile_mean"] = _mean_in(rec.expression, start, end, smile)
        row["valence_mean"] = _mean_in(rec.expression, start, end, valence)
        rows.append(row)
    return rows


def _dwell(rec: Recording, fix: ivt.Fixations | None, start: float, end: float, face_rect,
           settings: Settings) -> dict:
    if fix is None:
        return {"dwell_face_s": NAN, "dwell_eyes_s": NAN, "dwell_mouth_s": NAN, "gaze_valid_fraction": NAN}
    rect = tuple(face_rect) if face_rect and len(face_rect) == 4 else settings.display.face_rect()
    lo, hi = np.searchsorted(rec.gaze.times, [start, end])
    part = rec.gaze.values[lo:hi]
    valid = float(np.mean((part[:, 6] > 0.5) | (part[:, 7] > 0.5))) if len(part) else 0.0
    overlap = np.clip(np.minimum(fix.end, end) - np.maximum(fix.start, start), 0.0, None)
    on = overlap > 0
    where = regions.classify(fix.x[on], fix.y[on], rect)
    out = {f"dwell_{name}_s": round(float(overlap[on][where[name]].sum()), 4) for name in regions.REGION_NAMES}
    out["gaze_valid_fraction"] = round(valid, 3)
    return out
