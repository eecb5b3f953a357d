"""Group statistics for a pre/post design with two groups, with scipy.stats.

Why scipy.stats suffices: the design is 2 groups x 2 times with one value per
participant and time. The within-group effect is a paired t-test on the
differences; the group x time interaction of a 2 x 2 mixed ANOVA is exactly
the comparison of the change scores (post - pre) between the groups (its F
equals the square of that t with pooled variance); we use Welch's t, which
does not assume equal variances. pingouin or statsmodels would add a
dependency for the same numbers.

Assumptions, stated in the report: participants independent; the paired
differences (and the change scores per group) roughly normal, checked with
Shapiro-Wilk and backed by the Wilcoxon signed-rank test, which does not
assume normality. Effect sizes: dz = mean difference / SD of differences
(paired); Hedges' g on the change scores (between groups).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

NAN = float("nan")


@dataclass(frozen=True)
class Paired:
    n: int
    pre: float  # means
    post: float
    diff: float  # mean of post - pre
    ci: tuple[float, float]  # 95 % CI of diff
    dz: float
    t: float
    p: float
    shapiro_p: float  # normality of the differences (NaN when n < 3)
    wilcoxon_p: float


@dataclass(frozen=True)
class Between:
    n: tuple[int, int]
    change: tuple[float, float]  # mean change per group
    diff: float  # group A change minus group B change
    ci: tuple[float, float]  # 95 % CI (Welch)
    g: float  # Hedges' g
    t: float
    df: float
    p: float


def _clean(values) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return a[np.isfinite(a)]


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and its t-based confidence interval; the interval is NaN with fewer than 2 values."""
    a = _clean(values)
    if len(a) == 0:
        return NAN, NAN, NAN
    m = float(a.mean())
    if len(a) < 2:
        return m, NAN, NAN
    half = float(stats.t.ppf(0.5 + level / 2, len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a)))
    return m, m - half, m + half


def paired(pre, post) -> Paired:
    """Pre vs post for participants measured at both times (pairs with a missing value are dropped)."""
    pre, post = np.asarray(pre, dtype=float), np.asarray(post, dtype=float)
    both = np.isfinite(pre) & np.isfinite(post)
    pre, post = pre[both], post[both]
    d = post - pre
    n = len(d)
    if n < 2:
        return Paired(n, *(float(x.mean()) if n else NAN for x in (pre, post, d)), (NAN, NAN), NAN, NAN, NAN,
                      NAN, NAN)
    m, lo, hi = mean_ci(d)
    sd = float(d.std(ddof=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant differences: scipy warns, the NaN says it
        t, p = stats.ttest_rel(post, pre)
        shapiro_p = float(stats.shapiro(d).pvalue) if n >= 3 and sd > 0 else NAN
        wilcoxon_p = float(stats.wilcoxon(d).pvalue) if np.any(d != 0) else NAN
    return Paired(n, float(pre.mean()), float(post.mean()), m, (lo, hi), m / sd if sd > 0 else NAN, float(t),
                  float(p), shapiro_p, wilcoxon_p)


def change_between(a, b) -> Between:
    """Group x time: the change scores of group ``a`` vs group ``b`` (Welch's t, 95 % CI, Hedges' g)."""
    a, b = _clean(a), _clean(b)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return Between((na, nb), (NAN, NAN), NAN, (NAN, NAN), NAN, NAN, NAN, NAN)
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    diff = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)) if se > 0 else NAN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, p = stats.ttest_ind(a, b, equal_var=False)
    half = float(stats.t.ppf(0.975, df) * se) if se > 0 else NAN
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    correction = 1 - 3 / (4 * (na + nb) - 9)
    g = diff / pooled * correction if pooled > 0 else NAN
    return Between((na, nb), (float(a.mean()), float(b.mean())), diff, (diff - half, diff + half), g, float(t),
                   float(df), float(p))
