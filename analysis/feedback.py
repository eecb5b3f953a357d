"""Live feedback in training sessions: what the participant was shown and how she responded.

Read from the feedback markers the stimulus side sent (stimulus/feedback.py),
which carry per face the time to the first look at each region and the gaze
dwell there, whether a cue was shown, and whether her smile mirrored a happy
face. One row per training recording; the change across a participant's
training sessions is the last session minus the first.

Columns (times in seconds):

    faces, cued_faces, cues        faces shown; faces with a cue; cues shown
    first_eyes_s, first_mouth_s    mean time from face onset to the first look (faces looked at)
    looked_eyes_rate               share of faces whose eyes she looked at
    dwell_cued_s, dwell_uncued_s   mean dwell on eyes + mouth on faces with and without a cue
    mirroring_rate                 mirrored / happy faces shown with mirroring feedback
    calm_cues, pauses              breathing cues shown; feedback pauses (a stream stalled or poor)
"""
from __future__ import annotations

from statistics import mean
from typing import Any

COLUMNS = ["participant", "session", "run", "faces", "cued_faces", "cues", "first_eyes_s", "first_mouth_s",
           "looked_eyes_rate", "dwell_cued_s", "dwell_uncued_s", "mirroring_rate", "calm_cues", "pauses"]
CHANGE = ["first_eyes_s", "first_mouth_s", "looked_eyes_rate", "cued_faces", "mirroring_rate"]


NAN = float("nan")  # no value (no face of that kind): an empty cell, as elsewhere in the analysis


def _mean(values: list[float]) -> float:
    return round(mean(values), 4) if values else NAN


def session_row(markers: list[tuple[float, dict]], labels: dict[str, str]) -> dict[str, Any] | None:
    """The feedback summary of one recording, or None when it had no live feedback."""
    faces = [m for _, m in markers if m.get("event") == "feedback_face"]
    if not faces:
        return None

    def dwell(m: dict) -> float:
        return float(m.get("dwell_eyes") or 0.0) + float(m.get("dwell_mouth") or 0.0)

    def first(region: str) -> list[float]:
        return [float(m[f"first_{region}"]) for m in faces if m.get(f"first_{region}") is not None]

    mirror = [m for m in faces if m.get("mirroring_face")]
    count = {e: sum(1 for _, m in markers if m.get("event") == e)
             for e in ("feedback_cue_on", "feedback_calm_on", "feedback_paused")}
    return {
        "participant": labels.get("participant", ""), "session": labels.get("session", ""),
        "run": labels.get("run", ""), "faces": len(faces),
        "cued_faces": sum(1 for m in faces if m.get("cued")), "cues": count["feedback_cue_on"],
        "first_eyes_s": _mean(first("eyes")), "first_mouth_s": _mean(first("mouth")),
        "looked_eyes_rate": round(len(first("eyes")) / len(faces), 4),
        "dwell_cued_s": _mean([dwell(m) for m in faces if m.get("cued")]),
        "dwell_uncued_s": _mean([dwell(m) for m in faces if not m.get("cued")]),
        "mirroring_rate": round(sum(1 for m in mirror if m.get("mirrored")) / len(mirror), 4) if mirror else NAN,
        "calm_cues": count["feedback_calm_on"], "pauses": count["feedback_paused"],
    }


def change_across_sessions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per participant with two or more training sessions: last minus first, in recording order."""
    by: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault(row["participant"], []).append(row)
    out = []
    for participant, sessions in by.items():
        if len(sessions) < 2:
            continue
        first, last = sessions[0], sessions[-1]
        change: dict[str, Any] = {"participant": participant, "sessions": len(sessions)}
        for key in CHANGE:
            change[key] = round(float(last[key]) - float(first[key]), 4)  # NaN when either has none
        out.append(change)
    return out
