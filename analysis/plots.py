"""The report's figures as PNG files (matplotlib, no display needed).

Every figure: one panel per group; each participant a thin line; the group
mean as a thick line or marker with its 95 % confidence interval (t
distribution over participants) as error bars; the y axis at full scale (or
from 0 for measures without a fixed top); n in every legend; the same colours
for before (blue) and after (vermilion) training throughout (Okabe-Ito,
readable with colour-blindness). Each figure carries its caption, which says
what the error bars are.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from analysis import stats
from analysis.cohort import BY_KEY, PHASES, by_participant

COLOURS = {"pre": "#0072B2", "post": "#D55E00"}
NAMES = {"pre": "before training", "post": "after training"}
EMOTIONS = ("sad", "neutral", "happy")
ERRORBARS = "Error bars: 95 % confidence interval of the group mean (t distribution over participants)."


def _n_text(n: int) -> str:
    return f"n = {n}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _panels(n: int, height: float, per_panel: float):
    """A row of one panel per group (at least one), wide enough for its caption."""
    n = max(1, n)
    return plt.subplots(1, n, figsize=(max(7.0, per_panel * n), height), sharey=True, squeeze=False)


def _caption(fig, text: str, smallest_n: int | None = None) -> None:
    """The caption under the panels; it says what the error bars are (and when there are none)."""
    if smallest_n is not None and smallest_n < 2:
        text += " With fewer than 2 participants a group has no interval."
    width = fig.get_size_inches()[0]
    lines = textwrap.wrap(text, width=int(width * 15))
    fig.text(0.01, 0.01, "\n".join(lines), ha="left", va="bottom", fontsize=8, color="#333333")
    fig._caption_inches = 0.16 * len(lines) + 0.1  # read by _save to keep the panels clear of it


def _no_data(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} to show\n(see the report's exclusions)", ha="center", va="center",
            transform=ax.transAxes, color="#666666")
    ax.set(xticks=[], yticks=[])


def _errorbar(ax, x, values, colour, label, offset=0.0, marker="o") -> None:
    m, lo, hi = stats.mean_ci(values)
    if math.isnan(m):
        return
    err = None if math.isnan(lo) else [[m - lo], [hi - m]]
    ax.errorbar([x + offset], [m], yerr=err, color=colour, marker=marker, ms=8, lw=2.5, capsize=5, label=label,
                zorder=5)


def _top(values: list[float]) -> float:
    good = [v for v in values if not math.isnan(v)]
    return max(good) * 1.15 if good and max(good) > 0 else 1.0


def pre_post(table: list[dict], measure: str, path: Path) -> tuple[Path, str]:
    """One measure before vs after training: participants as thin lines, group means with 95 % CI."""
    m = BY_KEY[measure]
    groups = by_participant(table, measure)
    fig, axes = _panels(len(groups), 4.8, 4.2)
    everything = [v for people in groups.values() for ph in people.values() for v in ph.values()]
    if not groups:
        _no_data(axes[0][0], m.label)
    for ax, (group, people) in zip(axes[0], groups.items()):
        paired = [(v["pre"], v["post"]) for v in people.values() if "pre" in v and "post" in v]
        for pre, post in paired:
            ax.plot([0, 1], [pre, post], color="#999999", lw=0.8, alpha=0.8, zorder=1)
        ax.plot([], [], color="#999999", lw=0.8, label=f"participants ({_n_text(len(paired))})")
        for x, phase in enumerate(PHASES):
            vals = [v[phase] for v in people.values() if phase in v]
            _errorbar(ax, x, vals, COLOURS[phase], f"mean {NAMES[phase]} ({_n_text(len(vals))})")
        means = [stats.mean_ci([v[p] for v in people.values() if p in v])[0] for p in PHASES]
        ax.plot([0, 1], means, color="#222222", lw=1.5, zorder=4)
        ax.set(xticks=[0, 1], xticklabels=[NAMES[p] for p in PHASES], xlim=(-0.4, 1.4), title=f"group: {group}")
        ax.legend(loc="best", fontsize=8)
    ax0 = axes[0][0]
    ax0.set_ylabel(f"{m.label}\n({m.unit})")
    if m.scale is not None:
        ax0.set_ylim(*m.scale)
    else:
        ax0.set_ylim(0, _top(everything))
    if m.key in ("ambiguous_rating",):
        for ax in axes[0]:
            ax.axhline(50, color="#bbbbbb", lw=0.8, ls="--")
    if m.key == "pse":
        for ax in axes[0]:
            ax.axhline(0, color="#bbbbbb", lw=0.8, ls="--")
    caption = (f"{_sentence(m.label)} before and after training, per group. Thin grey lines: individual "
               f"participants; coloured markers: group means. {ERRORBARS}")
    fig.suptitle(_sentence(m.label))
    _caption(fig, caption, min((len(people) for people in groups.values()), default=None))
    return _save(fig, path), caption


def psychometric(trial_rows: list[dict], path: Path) -> tuple[Path, str]:
    """Rating by morph level: participants' mean curves as thin lines, group mean with 95 % CI."""
    curves: dict[tuple, dict[float, list[float]]] = {}
    for r in trial_rows:
        if r["phase"] not in PHASES or r["morph"] == "" or r["rating"] == "":
            continue
        key = (r["group"], r["participant"], r["phase"])
        curves.setdefault(key, {}).setdefault(float(r["morph"]), []).append(float(r["rating"]))
    groups = sorted({k[0] for k in curves})
    fig, axes = _panels(len(groups), 5.0, 5.2)
    if not groups:
        _no_data(axes[0][0], "ratings")
    for ax, group in zip(axes[0], groups):
        for phase, offset in zip(PHASES, (-0.012, 0.012)):
            people = {k[1]: v for k, v in curves.items() if k[0] == group and k[2] == phase}
            levels = sorted({m for v in people.values() for m in v})
            for per_level in people.values():
                xs = sorted(per_level)
                ax.plot(xs, [np.mean(per_level[x]) for x in xs], color=COLOURS[phase], lw=0.6, alpha=0.35)
            for i, level in enumerate(levels):
                vals = [float(np.mean(v[level])) for v in people.values() if level in v]
                _errorbar(ax, level, vals, COLOURS[phase],
                          f"{NAMES[phase]}: mean ({_n_text(len(people))})" if i == 0 else None, offset=offset)
            means = [stats.mean_ci([np.mean(v[lv]) for v in people.values() if lv in v])[0] for lv in levels]
            ax.plot(np.array(levels) + offset, means, color=COLOURS[phase], lw=2)
        ax.axhline(50, color="#bbbbbb", lw=0.8, ls="--")
        ax.axvline(0, color="#bbbbbb", lw=0.8, ls="--")
        ax.set(xlim=(-1.1, 1.1), ylim=(0, 100), title=f"group: {group}",
               xlabel="face morph level (-1 sad … 0 neutral … +1 happy)")
        ax.legend(loc="upper left", fontsize=8)
    axes[0][0].set_ylabel("rating (0 very sad – 100 very happy)")
    caption = ("Rating by morph level, per group. Thin lines: each participant's mean rating per level; thick "
               f"lines and markers: group means. {ERRORBARS}")
    fig.suptitle("Psychometric function: rating by morph level")
    _caption(fig, caption, min((len({k[1] for k in curves if k[0] == g}) for g in groups), default=None))
    return _save(fig, path), caption


def scr_by_emotion(table: list[dict], path: Path) -> tuple[Path, str]:
    """SCR amplitude per face emotion, before and after, per group: participants as dots, means with 95 % CI."""
    keys = {e: f"scr_{e}_us" for e in EMOTIONS}
    per = {e: by_participant(table, k) for e, k in keys.items()}
    groups = sorted({g for d in per.values() for g in d})
    fig, axes = _panels(len(groups), 4.8, 5.2)
    if not groups:
        _no_data(axes[0][0], "SCR scores")
    everything = []
    rng = np.random.default_rng(0)
    for ax, group in zip(axes[0], groups):
        for phase, offset in zip(PHASES, (-0.17, 0.17)):
            n_people = 0
            for x, emotion in enumerate(EMOTIONS):
                people = per[emotion].get(group, {})
                vals = [v[phase] for v in people.values() if phase in v]
                n_people = max(n_people, len(vals))
                everything += vals
                ax.scatter(x + offset + rng.uniform(-0.05, 0.05, len(vals)), vals, s=10, color=COLOURS[phase],
                           alpha=0.35, zorder=2)
                _errorbar(ax, x, vals, COLOURS[phase], None, offset=offset, marker="s")
            ax.errorbar([], [], yerr=[], color=COLOURS[phase], marker="s", label=f"{NAMES[phase]} "
                        f"({_n_text(n_people)})")
        ax.set(xticks=range(len(EMOTIONS)), xticklabels=EMOTIONS, xlabel="emotion of the face",
               title=f"group: {group}")
        ax.legend(loc="upper right", fontsize=8)
    axes[0][0].set_ylabel("SCR amplitude (µS; 0 = no response)")
    axes[0][0].set_ylim(0, _top(everything))
    caption = ("Skin conductance response by face emotion (onset 1-4 s after the face, window closed at the "
               "next face). Small dots: participants' means; squares: group means. " + ERRORBARS)
    fig.suptitle("Skin conductance response by emotion")
    _caption(fig, caption, min((len(per[e].get(g, {})) for g in groups for e in EMOTIONS), default=None))
    return _save(fig, path), caption


def _save(fig, path: Path) -> Path:
    bottom = getattr(fig, "_caption_inches", 0.5) / fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, bottom, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
