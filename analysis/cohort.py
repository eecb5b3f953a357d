"""From many recordings to one value per participant, session and measure, by group.

Which recordings count: each file's participant/session/task/run come from
its BIDS-style name. Runs of the same participant, session and task are a
choice, never new participants: ``latest`` (default) keeps the highest run
number and lists the others as skipped; ``all`` keeps every run with its
``run`` column, and the group statistics then average a participant's runs
within a session, so each participant still counts once.

Groups come from ``participants.tsv`` (BIDS: ``participant_id`` such as
``sub-01`` and a ``group`` column, e.g. high / low risk); a participant not in
it is in group "all".

Per participant and session (``measures``), from the per-trial table:
the logistic psychometric fit (PSE, slope, R^2; analysis.psychometric), the
share of ambiguous faces read as positive, SCR amplitude per emotion, dwell
on eyes and mouth, and the participant's own smile while faces are shown.
Excluded trials, each for its stated reason, are counted.
"""
from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis import psychometric, stats
from analysis.recording import labels_from_name

AMBIGUOUS = 0.25  # |morph| at or below this is an ambiguous face
MIN_GAZE_VALID = 0.5  # a face with less valid gaze than this is left out of the dwell measures
NO_GROUP = "all"
PHASES = ("pre", "post")


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    unit: str
    decimals: int
    scale: tuple[float, float] | None  # full scale for figures; None: from 0 to the data's top


MEASURES = [
    Measure("ambiguous_positive_pct", "ambiguous faces read as positive", "% of faces", 0, (0.0, 100.0)),
    Measure("ambiguous_rating", "mean rating of ambiguous faces", "0-100", 1, (0.0, 100.0)),
    Measure("pse", "point of subjective neutrality (PSE)", "morph level", 2, (-1.0, 1.0)),
    Measure("slope", "psychometric slope at the PSE", "rating points per morph unit", 0, None),
    Measure("scr_sad_us", "SCR amplitude to sad faces", "µS", 3, None),
    Measure("scr_happy_us", "SCR amplitude to happy faces", "µS", 3, None),
    Measure("smile", "own smile while faces are shown", "score 0-1", 2, (0.0, 1.0)),
    Measure("dwell_eyes_s", "fixation dwell on the eyes per face", "s", 2, None),
    Measure("dwell_mouth_s", "fixation dwell on the mouth per face", "s", 2, None),
]
BY_KEY = {m.key: m for m in MEASURES}


@dataclass
class Chosen:
    """The recordings to analyse and the ones left out, each with its reason."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def choose_runs(files: list[Path], mode: str = "latest") -> Chosen:
    """Keep one run per participant/session/task (``latest``) or every run (``all``)."""
    if mode not in ("latest", "all"):
        raise ValueError(f"runs: expected 'latest' or 'all', got {mode!r}")
    out = Chosen()
    groups: dict[tuple, list[Path]] = defaultdict(list)
    for path in files:
        lab = labels_from_name(path)
        key = (lab.get("participant") or path.stem, lab.get("session", ""), lab.get("task", ""))
        groups[key].append(path)
    for paths in groups.values():
        if mode == "all" or len(paths) == 1:
            out.files.extend(paths)
            continue

        def run_number(p: Path) -> tuple[int, str]:
            run = labels_from_name(p).get("run", "")
            return (int(run) if run.isdigit() else 0, p.name)

        ordered = sorted(paths, key=run_number)
        out.files.append(ordered[-1])
        out.skipped += [(p, f"earlier run of the same participant/session/task; {ordered[-1].name} is used "
                            "(--runs all keeps every run)") for p in ordered[:-1]]
    out.files.sort()
    return out


def read_participants(path: Path) -> dict[str, dict[str, str]]:
    """participants.tsv -> {participant label without ``sub-``: row}; errors name the file and line."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    out = {}
    for i, row in enumerate(rows, 2):
        pid = (row.get("participant_id") or "").strip()
        if not pid:
            raise ValueError(f"{path}: line {i}: no participant_id")
        out[pid.removeprefix("sub-")] = row
    return out


def find_participants(inputs: list[Path]) -> Path | None:
    """A participants.tsv in (or beside) the folders given."""
    for item in inputs:
        folder = item if item.is_dir() else item.parent
        for candidate in (folder / "participants.tsv", folder.parent / "participants.tsv"):
            if candidate.is_file():
                return candidate
    return None


def _num(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _mean(values) -> float:
    a = np.asarray([_num(v) for v in values], dtype=float)
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else math.nan


def measures(rows: list[dict]) -> dict:
    """One recording's (participant-session-run's) measures and its exclusion counts."""
    rated = [r for r in rows if r["morph"] != "" and _num(r["rating"]) == _num(r["rating"])]
    fit = psychometric.fit([r["morph"] for r in rated], [r["rating"] for r in rated])
    ambiguous = [_num(r["rating"]) for r in rated if abs(_num(r["morph"])) <= AMBIGUOUS]
    scored = [r for r in rows if not math.isnan(_num(r["scr_amplitude_us"]))]
    seen = [r for r in rows if _num(r["gaze_valid_fraction"]) >= MIN_GAZE_VALID]
    out = {
        "faces": len(rows), "rated": len(rated),
        "excluded_no_answer": sum(1 for r in rows if r.get("timed_out") is True),
        "excluded_scr": len(rows) - len(scored),
        "excluded_gaze": sum(1 for r in rows if not math.isnan(_num(r["gaze_valid_fraction"]))) - len(seen),
        "pse": fit.pse, "slope": fit.slope, "fit_r2": fit.r2, "fit_rmse": fit.rmse, "fit_note": fit.note,
        "ambiguous_positive_pct": 100.0 * sum(v > 50 for v in ambiguous) / len(ambiguous) if ambiguous else math.nan,
        "ambiguous_rating": _mean(ambiguous),
        "smile": _mean(r["smile_mean"] for r in rows),
        "dwell_eyes_s": _mean(r["dwell_eyes_s"] for r in seen),
        "dwell_mouth_s": _mean(r["dwell_mouth_s"] for r in seen),
    }
    for emotion in ("sad", "neutral", "happy"):
        out[f"scr_{emotion}_us"] = _mean(r["scr_amplitude_us"] for r in scored if r["emotion"] == emotion)
    return out


def by_participant(table: list[dict], measure: str) -> dict[str, dict[str, dict[str, float]]]:
    """{group: {participant: {phase: value}}}, a participant's runs within a phase averaged."""
    values: dict[tuple, list[float]] = defaultdict(list)
    for row in table:
        if row["phase"] in PHASES and not math.isnan(_num(row[measure])):
            values[(row["group"], row["participant"], row["phase"])].append(_num(row[measure]))
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for (group, participant, phase), vs in values.items():
        out[group][participant][phase] = float(np.mean(vs))
    return {g: dict(ps) for g, ps in sorted(out.items())}


def within(table: list[dict], measure: str) -> dict[str, stats.Paired]:
    """Pre vs post within each group."""
    out = {}
    for group, people in by_participant(table, measure).items():
        pairs = [(v.get("pre", math.nan), v.get("post", math.nan)) for v in people.values()]
        out[group] = stats.paired([p for p, _ in pairs], [q for _, q in pairs])
    return out


def interaction(table: list[dict], measure: str) -> tuple[str, str, stats.Between] | None:
    """Group x time for the first two groups (change scores compared), or None with one group."""
    groups = by_participant(table, measure)
    if len(groups) < 2:
        return None
    names = sorted(groups)[:2]
    changes = [[v["post"] - v["pre"] for v in groups[g].values() if "pre" in v and "post" in v] for g in names]
    return names[0], names[1], stats.change_between(changes[0], changes[1])
