"""Writes the outputs: per-recording and summary TSVs, PNG figures, and the report as Markdown and HTML.

The report is built once as a list of blocks (headings, paragraphs, tables,
figures) and rendered twice: ``report.md`` beside its PNGs, and
``report.html`` with the figures embedded (base64), one file to send. It
states the data's provenance: which files and runs, the task speed, what was
excluded and why, what was skipped; numbers are rounded to what they mean.
"""
from __future__ import annotations

import base64
import csv
import html
import math
from dataclasses import dataclass, field
from pathlib import Path

from analysis import cohort, feedback, plots, summary
from analysis.trials import COLUMNS

STAT_MEASURES = ["ambiguous_positive_pct", "ambiguous_rating", "pse", "slope", "scr_sad_us", "scr_happy_us", "smile",
                 "dwell_eyes_s", "dwell_mouth_s"]
FIGURE_MEASURES = ["ambiguous_positive_pct", "pse", "scr_sad_us", "smile", "dwell_eyes_s"]
TIMING_WARNING = ("The task ran at speed {speeds}: every duration was divided by the speed, so timing measures "
                  "(reaction times, dwell per face, SCR latency and the SCR window, which closes at the next "
                  "face) are not interpretable; only speed 1 gives real-session timing.")


@dataclass
class Analysed:
    """One analysed recording."""

    path: Path
    rows: list[dict]
    notes: list[str] = field(default_factory=list)
    speed: float = math.nan  # the task's speed from its protocol_start marker


def fmt(value, decimals: int = 2) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{decimals}f}"
    return str(value)


def p_text(p: float) -> str:
    return "" if math.isnan(p) else "< 0.001" if p < 0.001 else f"{p:.3f}"


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
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


# -- the report as blocks -------------------------------------------------------------------------
def _md(blocks: list[tuple]) -> str:
    out = []
    for kind, *rest in blocks:
        if kind == "h":
            level, text = rest
            out.append("#" * level + " " + text + "\n")
        elif kind == "p":
            out.append(rest[0] + "\n")
        elif kind == "list":
            out.append("".join(f"- {item}\n" for item in rest[0]))
        elif kind == "table":
            columns, rows = rest
            if not rows:
                out.append("_none_\n")
                continue
            lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
            out.append("\n".join(lines) + "\n")
        elif kind == "fig":
            title, png, caption = rest
            out.append(f"![{title}]({png.name})\n\n_{caption}_\n")
    return "\n".join(out)


def _html(blocks: list[tuple], title: str) -> str:
    e = html.escape
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>"
           "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.4}"
           "table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}"
           "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}th{background:#eee}"
           "figure{margin:1em 0}img{max-width:100%}figcaption{font-size:0.9em;color:#333}"
           ".warning{background:#fff3cd;border:1px solid #e0c060;padding:0.5em}</style></head><body>"]
    for kind, *rest in blocks:
        if kind == "h":
            level, text = rest
            out.append(f"<h{level}>{e(text)}</h{level}>")
        elif kind == "p":
            text = rest[0]
            warn = text.startswith("**Warning")
            out.append(f"<p class='warning'>{e(text.replace('**', ''))}</p>" if warn else f"<p>{e(text)}</p>")
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in rest[0]) + "</ul>")
        elif kind == "table":
            columns, rows = rest
            if not rows:
                out.append("<p><em>none</em></p>")
                continue
            out.append("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in columns) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
                       + "</table>")
        elif kind == "fig":
            title, png, caption = rest
            data = base64.b64encode(png.read_bytes()).decode("ascii")
            out.append(f"<figure><img alt='{e(title)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{e(caption)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


def _provenance(recordings: list[Analysed], table: list[dict]) -> list[list[str]]:
    rows = []
    for rec, t in zip(recordings, table):
        rows.append([rec.path.name, t["participant"], t["group"], t["session"], t["task"], t["run"], t["phase"],
                     fmt(rec.speed, 2).rstrip("0").rstrip(".") if not math.isnan(rec.speed) else "unknown",
                     t["faces"], t["rated"], t["excluded_no_answer"], t["excluded_scr"], t["excluded_gaze"],
                     "; ".join(rec.notes)])
    return rows


def _session_order(t: dict) -> tuple:
    """Participant, then before / training / after, then run."""
    phase = {"pre": 0, "training": 1, "post": 2}.get(t["phase"], 3)
    return t["participant"], phase, t["session"], t["run"]


def _stats_rows(table: list[dict]) -> tuple[list[list[str]], list[list[str]]]:
    within, between = [], []
    for key in STAT_MEASURES:
        m = cohort.BY_KEY[key]
        d = m.decimals + 1
        for group, r in cohort.within(table, key).items():
            within.append([m.label, m.unit, group, r.n, fmt(r.pre, d), fmt(r.post, d), fmt(r.diff, d),
                           f"[{fmt(r.ci[0], d)}, {fmt(r.ci[1], d)}]" if not math.isnan(r.ci[0]) else "",
                           fmt(r.dz, 2), fmt(r.t, 2), p_text(r.p), p_text(r.shapiro_p), p_text(r.wilcoxon_p)])
        inter = cohort.interaction(table, key)
        if inter is not None:
            a, b, r = inter
            between.append([m.label, m.unit, f"{a} − {b}", f"{r.n[0]} / {r.n[1]}", fmt(r.change[0], d),
                            fmt(r.change[1], d), fmt(r.diff, d),
                            f"[{fmt(r.ci[0], d)}, {fmt(r.ci[1], d)}]" if not math.isnan(r.ci[0]) else "",
                            fmt(r.g, 2), fmt(r.t, 2), fmt(r.df, 1), p_text(r.p)])
    return within, between


def write_outputs(out: Path, recordings: list[Analysed], failures: list[str],
                  skipped: list[tuple[Path, str]] = (), groups: dict[str, dict[str, str]] | None = None,
                  groups_source: Path | None = None, runs: str = "latest",
                  feedback_rows: list[dict] | None = None) -> Path:
    """All files into ``out``; returns the Markdown report's path (report.html beside it)."""
    out.mkdir(parents=True, exist_ok=True)
    groups = groups or {}
    all_rows = [r for rec in recordings for r in rec.rows]
    summary.assign_phases(all_rows)
    table = []
    for rec in recordings:
        for r in rec.rows:
            r["group"] = groups.get(r["participant"], {}).get("group", "") or cohort.NO_GROUP
        write_tsv(out / f"{rec.path.stem}_trials.tsv", rec.rows, ["phase", "group", *COLUMNS])
        labels = {k: rec.rows[0][k] for k in ("participant", "session", "task", "run", "phase", "group")} \
            if rec.rows else {"participant": rec.path.stem, "session": "", "task": "", "run": "", "phase": "",
                              "group": cohort.NO_GROUP}
        table.append({**labels, "recording": rec.path.name, "speed": rec.speed, **cohort.measures(rec.rows)})
    measure_columns = ["participant", "group", "session", "task", "run", "phase", "recording", "speed", "faces",
                       "rated", "excluded_no_answer", "excluded_scr", "excluded_gaze", "pse", "slope", "fit_r2",
                       "fit_rmse", "fit_note", "ambiguous_positive_pct", "ambiguous_rating", "scr_sad_us",
                       "scr_neutral_us", "scr_happy_us", "smile", "dwell_eyes_s", "dwell_mouth_s"]
    write_tsv(out / "measures.tsv", table, measure_columns)
    morph = summary.by_morph(all_rows)
    emotion = summary.by_emotion(all_rows)
    write_tsv(out / "summary_by_morph.tsv", morph, list(morph[0]) if morph else ["participant"])
    write_tsv(out / "summary_by_emotion.tsv", emotion, list(emotion[0]) if emotion else ["participant"])
    write_tsv(out / "summary_ambiguous_pre_post.tsv", summary.ambiguous_shift(all_rows),
              ["participant", "pre", "post", "change"])

    participants = sorted({t["participant"] for t in table})
    group_n = {g: len({t["participant"] for t in table if t["group"] == g}) for g in sorted({t["group"] for t in table})}
    speeds = sorted({rec.speed for rec in recordings if not math.isnan(rec.speed)})
    blocks: list[tuple] = [("h", 1, "Infant face rating: cohort analysis")]
    blocks.append(("p", f"{len(recordings)} recording(s) of {len(participants)} participant(s) "
                        f"({', '.join(f'{g}: {n}' for g, n in group_n.items())}), {len(all_rows)} faces. "
                        f"Runs: {runs} (" + ("the highest run number of each participant/session/task"
                                              if runs == "latest" else "every run; a participant's runs in one "
                                              "session are averaged before the statistics") + "). "
                        f"Groups from {groups_source if groups_source else 'no participants.tsv: one group, all'}."))
    odd = [s for s in speeds if s != 1.0]
    if odd:
        blocks.append(("p", "**Warning:** " + TIMING_WARNING.format(
            speeds=", ".join(f"{s:g}" for s in speeds))))
    blocks += [("h", 2, "Provenance"),
               ("p", "One line per analysed recording. Excluded trials: no answer (time-out: no rating); no SCR "
                     "score (no GSR, recording ended, or the next face came less than 1.5 s after this one); "
                     f"gaze valid less than {cohort.MIN_GAZE_VALID:.0%} of the face (no dwell). Per-trial values: "
                     "`<recording>_trials.tsv`; per-recording measures: `measures.tsv`."),
               ("table", ["file", "participant", "group", "session", "task", "run", "phase", "speed", "faces",
                          "rated", "no answer", "no SCR score", "gaze invalid", "notes"],
                _provenance(recordings, table))]
    if skipped or failures:
        blocks += [("h", 2, "Not analysed"),
                   ("list", [f"{p.name}: {why}" for p, why in skipped] + list(failures))]
    within, between = _stats_rows(table)
    blocks += [
        ("h", 2, "Statistics"),
        ("p", "Within group: paired t-test of post − pre over participants with both sessions; mean difference "
              "with its 95 % confidence interval (t distribution); effect size dz = mean difference / SD of the "
              "differences. Assumptions: participants independent, differences roughly normal (Shapiro-Wilk p "
              "shown; small p: doubt it) and the Wilcoxon signed-rank p as the test that does not assume "
              "normality. Group × time: the change scores (post − pre) compared between the groups with Welch's t "
              "(equal to the interaction of a 2 × 2 mixed ANOVA, without assuming equal variances); Hedges' g on "
              "the change scores. No correction for the number of measures: read p-values as descriptive. "
              "Computed with scipy.stats."),
        ("h", 3, "Before vs after training, within group"),
        ("table", ["measure", "unit", "group", "n", "pre", "post", "post − pre", "95 % CI", "dz", "t", "p",
                   "Shapiro p", "Wilcoxon p"], within),
        ("h", 3, "Group × time (change scores between groups)"),
        ("table", ["measure", "unit", "groups", "n", "change A", "change B", "A − B", "95 % CI", "g", "t", "df",
                   "p"], between),
        ("h", 3, "Psychometric fits"),
        ("p", "Logistic fit of rating (0-100) on morph level per recording: PSE = morph level rated 50, slope in "
              "rating points per morph unit at the PSE, R² and RMSE (rating points) as fit quality."),
        ("table", ["participant", "group", "phase", "run", "PSE", "slope", "R²", "RMSE", "note"],
         [[t["participant"], t["group"], t["phase"], t["run"], fmt(t["pse"], 3), fmt(t["slope"], 1),
           fmt(t["fit_r2"], 2), fmt(t["fit_rmse"], 1), t["fit_note"]]
          for t in sorted(table, key=_session_order) if t["phase"] != "training"]),
        ("h", 2, "Figures"),
    ]
    png, caption = plots.psychometric(all_rows, out / "fig_psychometric.png")
    blocks.append(("fig", "Psychometric function", png, caption))
    for key in FIGURE_MEASURES:
        png, caption = plots.pre_post(table, key, out / f"fig_{key}.png")
        blocks.append(("fig", cohort.BY_KEY[key].label, png, caption))
    png, caption = plots.scr_by_emotion(table, out / "fig_scr_by_emotion.png")
    blocks.append(("fig", "SCR by emotion", png, caption))
    if feedback_rows:
        blocks += _feedback_blocks(out, feedback_rows)
    blocks += [("h", 2, "Files"),
               ("list", ["measures.tsv: one line per recording, every measure",
                         "summary_by_morph.tsv, summary_by_emotion.tsv: per participant and phase",
                         "summary_ambiguous_pre_post.tsv: mean rating of ambiguous faces per participant",
                         "`<recording>_trials.tsv`: one line per face (columns in docs/replay_analysis.md)"])]
    report = out / "report.md"
    report.write_text(_md(blocks), encoding="utf-8")
    (out / "report.html").write_text(_html(blocks, "Cohort analysis"), encoding="utf-8")
    return report


def _feedback_blocks(out: Path, rows: list[dict]) -> list[tuple]:
    """Training sessions with live feedback (analysis/feedback.py), and their change across sessions."""
    write_tsv(out / "summary_feedback.tsv", rows, feedback.COLUMNS)
    blocks: list[tuple] = [
        ("h", 2, "Live feedback in training"),
        ("p", "One line per training recording with live feedback (summary_feedback.tsv; columns in "
              "docs/feedback.md): time to the first look at the eyes and mouth, dwell on them with and without a "
              "cue, cues, mirroring rate."),
        ("table", feedback.COLUMNS, [[_cell(r.get(c, "")) for c in feedback.COLUMNS] for r in rows])]
    change = feedback.change_across_sessions(rows)
    if change:
        columns = ["participant", "sessions", *feedback.CHANGE]
        blocks += [("h", 3, "Change from the first to the last training session"),
                   ("table", columns, [[_cell(r.get(c, "")) for c in columns] for r in change])]
    return blocks
