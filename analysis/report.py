"""Writes the outputs: a TSV per recording, summary TSVs, PNG plots and a Markdown report."""
from __future__ import annotations

import csv
import math
from pathlib import Path

from analysis import feedback, plots, summary
from analysis.trials import COLUMNS


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_tsv(path: Path, rows: list[dict], columns: list[str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_cell(r.get(c, "")) for c in columns])
    return path


def _md_table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "_none_\n"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_outputs(out: Path, recordings: list[tuple[Path, list[dict], list[str]]],
                  failures: list[str], feedback_rows: list[dict] | None = None) -> Path:
    """All files into ``out``; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    all_rows = [r for _, rows, _ in recordings for r in rows]
    summary.assign_phases(all_rows)
    listing = []
    for path, rows, notes in recordings:
        tsv = write_tsv(out / f"{path.stem}_trials.tsv", rows, ["phase", *COLUMNS])
        listing.append({"recording": path.name, "faces": len(rows), "trials_tsv": f"[{tsv.name}]({tsv.name})",
                        "phase": rows[0]["phase"] if rows else "", "notes": "; ".join(notes)})
    morph = summary.by_morph(all_rows)
    emotion = summary.by_emotion(all_rows)
    shift = summary.ambiguous_shift(all_rows)
    write_tsv(out / "summary_by_morph.tsv", morph, list(morph[0]) if morph else ["participant"])
    write_tsv(out / "summary_by_emotion.tsv", emotion, list(emotion[0]) if emotion else ["participant"])
    write_tsv(out / "summary_ambiguous_pre_post.tsv", shift, ["participant", "pre", "post", "change"])
    figures = [
        ("Rating and reaction time by morph level", plots.rating_curve(morph, out / "analysis_rating_curve.png")),
        ("Ambiguous faces before and after training", plots.pre_post(shift, out / "analysis_pre_post.png")),
        ("Skin conductance response by emotion", plots.scr_by_emotion(emotion, out / "analysis_scr_by_emotion.png")),
        ("Gaze dwell by region", plots.dwell_by_region(emotion, out / "analysis_dwell_by_region.png")),
    ]
    parts = ["# Face rating analysis\n",
             f"{len(recordings)} recording(s), {len(all_rows)} faces. Per-trial columns are described in "
             "docs/replay_analysis.md.\n", "## Recordings\n",
             _md_table(listing, ["recording", "phase", "faces", "trials_tsv", "notes"])]
    if failures:
        parts += ["## Not analysed\n", "".join(f"- {f}\n" for f in failures)]
    parts += ["## Ambiguous faces, before vs after\n",
              _md_table(shift, ["participant", "pre", "post", "change"]),
              "## By morph level\n", "[summary_by_morph.tsv](summary_by_morph.tsv)\n\n",
              _md_table(morph, ["participant", "phase", "morph", "answered", "rating_mean", "rt_mean_s"]),
              "## By emotion\n", "[summary_by_emotion.tsv](summary_by_emotion.tsv)\n\n",
              _md_table(emotion, ["participant", "phase", "emotion", "faces", "scr_amplitude_mean_us",
                                  "scr_response_rate", "dwell_face_mean_s", "dwell_eyes_mean_s",
                                  "dwell_mouth_mean_s", "valence_mean"]),
              "## Figures\n"]
    parts += [f"### {title}\n\n![{title}]({png.name})\n\n" for title, png in figures]
    if feedback_rows:
        parts += _feedback_section(out, feedback_rows)
    report = out / "report.md"
    report.write_text("\n".join(parts), encoding="utf-8")
    return report


def _feedback_section(out: Path, rows: list[dict]) -> list[str]:
    """Training sessions with live feedback (analysis/feedback.py), and their change across sessions."""
    write_tsv(out / "summary_feedback.tsv", rows, feedback.COLUMNS)
    change = feedback.change_across_sessions(rows)
    parts = ["## Live feedback in training\n", "[summary_feedback.tsv](summary_feedback.tsv)\n\n",
             _md_table(rows, feedback.COLUMNS)]
    if change:
        parts += ["### Change from the first to the last training session\n",
                  _md_table(change, ["participant", "sessions", *feedback.CHANGE])]
    return parts
