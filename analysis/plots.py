"""The report's figures as PNG files (matplotlib, no display needed)."""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PHASE_STYLE = {"pre": ("#1f77b4", "before training"), "training": ("#2ca02c", "during training"),
               "post": ("#d62728", "after training"),
               "": ("#444444", "all recordings")}
EMOTIONS = ("sad", "neutral", "happy")
REGIONS = (("dwell_face_mean_s", "whole face"), ("dwell_eyes_mean_s", "eyes"), ("dwell_mouth_mean_s", "mouth"))


def _ok(v) -> bool:
    return isinstance(v, (int, float)) and not math.isnan(v)


def _phases(rows: list[dict]) -> list[str]:
    present = {r["phase"] for r in rows}
    return [p for p in ("pre", "training", "post", "") if p in present]


def _pool(rows: list[dict], key: str, value: str) -> dict[tuple, list[float]]:
    """Values of ``value`` pooled over participants by (phase, key)."""
    out: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        if _ok(r[value]):
            out[(r["phase"], r[key])].append(r[value])
    return out


def _mean_sem(values: list[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1) / len(values))


def rating_curve(morph_rows: list[dict], path: Path) -> Path:
    """Mean rating and reaction time by morph level, one line per phase."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    for phase in _phases(morph_rows):
        colour, label = PHASE_STYLE[phase]
        for ax, value in ((ax1, "rating_mean"), (ax2, "rt_mean_s")):
            pooled = _pool([r for r in morph_rows if r["phase"] == phase], "morph", value)
            levels = sorted(m for _, m in pooled)
            stats = [_mean_sem(pooled[(phase, m)]) for m in levels]
            ax.errorbar(levels, [s[0] for s in stats], yerr=[s[1] for s in stats], marker="o",
                        color=colour, label=label, capsize=3)
    ax1.axhline(50, color="#999999", lw=0.8, ls="--")
    ax1.set(xlabel="face morph level (-1 sad … 0 neutral … +1 happy)", ylabel="rating (0 very sad – 100 very happy)",
            title="Rating by morph level (mean ± SEM over participants)", ylim=(0, 100))
    ax2.set(xlabel="face morph level (-1 sad … 0 neutral … +1 happy)", ylabel="reaction time (s)",
            title="Reaction time by morph level")
    ax1.legend(loc="upper left")
    return _save(fig, path)


def pre_post(shift_rows: list[dict], path: Path) -> Path:
    """Ambiguous-face rating per participant, before vs after training."""
    fig, ax = plt.subplots(figsize=(5, 4.2))
    pairs = [r for r in shift_rows if _ok(r["pre"]) and _ok(r["post"])]
    for r in pairs:
        ax.plot([0, 1], [r["pre"], r["post"]], marker="o", color="#777777", alpha=0.7)
    if pairs:
        pre = [r["pre"] for r in pairs]
        post = [r["post"] for r in pairs]
        ax.plot([0, 1], [sum(pre) / len(pre), sum(post) / len(post)], marker="s", lw=3, color="#d62728",
                label=f"mean of {len(pairs)} participant(s)")
        ax.legend(loc="best")
    else:
        ax.text(0.5, 50, "no participant has both a\nbefore and an after recording", ha="center", va="center")
    ax.axhline(50, color="#999999", lw=0.8, ls="--")
    ax.set(xticks=[0, 1], xticklabels=["before training", "after training"], xlim=(-0.3, 1.3),
           ylabel="mean rating of ambiguous faces (0-100)", title="Ambiguous faces (|morph| ≤ 0.25)")
    return _save(fig, path)


def _grouped_bars(ax, emotion_rows: list[dict], categories, value_of, phases) -> None:
    width = 0.8 / max(1, len(phases))
    for i, phase in enumerate(phases):
        colour, label = PHASE_STYLE[phase]
        means, errs = [], []
        for cat in categories:
            vals = [v for v in (value_of(r, cat) for r in emotion_rows if r["phase"] == phase) if _ok(v)]
            m, e = _mean_sem(vals) if vals else (math.nan, 0.0)
            means.append(m)
            errs.append(e)
        xs = [j + (i - (len(phases) - 1) / 2) * width for j in range(len(categories))]
        ax.bar(xs, means, width, yerr=errs, color=colour, alpha=0.85, label=label, capsize=3)


def scr_by_emotion(emotion_rows: list[dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.2))
    cats = [e for e in EMOTIONS if any(r["emotion"] == e for r in emotion_rows)]
    _grouped_bars(ax, emotion_rows, cats,
                  lambda r, c: r["scr_amplitude_mean_us"] if r["emotion"] == c else math.nan, _phases(emotion_rows))
    ax.set(xticks=range(len(cats)), xticklabels=cats, xlabel="emotion of the face",
           ylabel="SCR amplitude (µS, 0 = no response)", title="Skin conductance response, 1-4 s after face onset")
    ax.legend(loc="best")
    return _save(fig, path)


def dwell_by_region(emotion_rows: list[dict], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.2))
    phases = _phases(emotion_rows)

    def value(r: dict, region: str) -> float:
        return r[region]

    _grouped_bars(ax, emotion_rows, [k for k, _ in REGIONS], value, phases)
    ax.set(xticks=range(len(REGIONS)), xticklabels=[label for _, label in REGIONS], xlabel="region of the face",
           ylabel="fixation dwell time per face (s)", title="Where the face was looked at (I-VT fixations)")
    ax.legend(loc="best")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
