"""Across recordings: which is before and which after training, and the group means.

Phase: "pre", "training" or "post" when the session or task label says so
(``ses-pre``, ``ses-training``, ``task-ratingpost``...); otherwise, for a participant with
rating recordings from two or more sessions, the first session (in sort
order) is "pre" and the last "post"; a single session has no phase ("").
"""
from __future__ import annotations

import math
from collections import defaultdict
from statistics import mean

NAN = float("nan")
AMBIGUOUS = 0.25  # |morph| at or below this counts as an ambiguous face


def _phase_word(text: str) -> str:
    text = text.casefold()
    if "post" in text:
        return "post"
    if "pre" in text:
        return "pre"
    if "train" in text:
        return "training"
    return ""


def assign_phases(rows: list[dict]) -> None:
    """Add a "phase" column to every row (in place)."""
    sessions: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        sessions[r["participant"]].add(r["session"])
    for r in rows:
        phase = _phase_word(r["session"]) or _phase_word(r["task"])
        if not phase:
            ordered = sorted(sessions[r["participant"]])
            if len(ordered) >= 2:
                phase = "pre" if r["session"] == ordered[0] else "post" if r["session"] == ordered[-1] else ""
        r["phase"] = phase


def _num(value) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return NAN
    return out


def _mean(values) -> float:
    good = [v for v in map(_num, values) if not math.isnan(v)]
    return round(mean(good), 4) if good else NAN


def _sem(values) -> float:
    good = [v for v in map(_num, values) if not math.isnan(v)]
    if len(good) < 2:
        return NAN
    m = mean(good)
    return round(math.sqrt(sum((v - m) ** 2 for v in good) / (len(good) - 1) / len(good)), 4)


def by_morph(rows: list[dict]) -> list[dict]:
    """Rating and reaction time per participant, phase and morph level (assessments only:
    training trials are classifications at the staircase's morph levels, not ratings)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["morph"] != "" and r["phase"] != "training":
            groups[(r["participant"], r["phase"], float(r["morph"]))].append(r)
    out = []
    for (participant, phase, morph), rs in sorted(groups.items()):
        ratings = [r["rating"] for r in rs if r["rating"] != ""]
        out.append({"participant": participant, "phase": phase, "morph": morph, "faces": len(rs),
                    "answered": len(ratings), "rating_mean": _mean(ratings), "rating_sem": _sem(ratings),
                    "rt_mean_s": _mean(r["rt_s"] for r in rs)})
    return out


def by_emotion(rows: list[dict]) -> list[dict]:
    """SCR, gaze dwell and expression per participant, phase and face emotion."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["participant"], r["phase"], r["emotion"])].append(r)
    out = []
    for (participant, phase, emotion), rs in sorted(groups.items()):
        amps = [_num(r["scr_amplitude_us"]) for r in rs]
        scored = [a for a in amps if not math.isnan(a)]
        out.append({
            "participant": participant, "phase": phase, "emotion": emotion, "faces": len(rs),
            "scr_amplitude_mean_us": _mean(scored), "scr_amplitude_sem_us": _sem(scored),
            "scr_response_rate": round(sum(a > 0 for a in scored) / len(scored), 3) if scored else NAN,
            "scr_latency_mean_s": _mean(r["scr_latency_s"] for r in rs),
            "dwell_face_mean_s": _mean(r["dwell_face_s"] for r in rs),
            "dwell_eyes_mean_s": _mean(r["dwell_eyes_s"] for r in rs),
            "dwell_mouth_mean_s": _mean(r["dwell_mouth_s"] for r in rs),
            "smile_mean": _mean(r["smile_mean"] for r in rs),
            "valence_mean": _mean(r["valence_mean"] for r in rs),
        })
    return out


def ambiguous_shift(rows: list[dict]) -> list[dict]:
    """Mean rating of ambiguous faces per participant before and after (the study's key number)."""
    groups: dict[tuple, list] = defaultdict(list)
    for r in rows:
        if r["morph"] != "" and abs(float(r["morph"])) <= AMBIGUOUS and r["rating"] != "":
            groups[(r["participant"], r["phase"])].append(r["rating"])
    out = []
    for participant in sorted({p for p, _ in groups}):
        pre, post = _mean(groups.get((participant, "pre"), [])), _mean(groups.get((participant, "post"), []))
        out.append({"participant": participant, "pre": pre, "post": post,
                    "change": round(post - pre, 4) if not (math.isnan(pre) or math.isnan(post)) else NAN})
    return out
