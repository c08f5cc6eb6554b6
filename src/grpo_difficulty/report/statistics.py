"""Statistics of the report: correctness matrices, the seeded bootstrap over problems
and seeds (of one accuracy, and of two strategies' paired difference), the seeds a
difference needs, and the least-squares fit of accuracy change on learnable %."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

BOOTSTRAP_SEED = 0
# normal quantiles of a two-sided 95% interval and of 80% power (seeds_to_resolve)
Z_95 = 1.959964
Z_POWER = 0.841621


def correctness_matrix(predictions: list[pd.DataFrame], ids: pd.Index | None = None) -> tuple[np.ndarray, pd.Index]:
    """Seeds × problems 0/1 matrix of greedy correctness (rows aligned on problem id)."""
    if ids is None:
        ids = pd.Index(sorted(predictions[0]["id"]))
    rows = []
    for p in predictions:
        row = p.set_index("id")["correct"].reindex(ids)
        if row.isna().any():
            raise ValueError(
                f"predictions lack {int(row.isna().sum())} of the {len(ids)} problems "
                f"(e.g. {row[row.isna()].index[0]}): runs were evaluated on different problems"
            )
        rows.append(row.to_numpy(float))
    return np.vstack(rows), ids


def bootstrap(
    matrix: np.ndarray, baseline: np.ndarray | None = None, n_boot: int = 2000, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float, float]:
    """Mean accuracy of a seeds × problems matrix (minus a baseline per problem, if
    given) with a 95% percentile interval. Each resample draws problems with replacement
    and, independently, seeds with replacement; the baseline is paired by problem."""
    point = matrix.mean() - (baseline.mean() if baseline is not None else 0.0)
    if matrix.shape[1] < 2:
        return float(point), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    problems = rng.integers(0, matrix.shape[1], size=(n_boot, matrix.shape[1]))
    per_problem = _seed_means(rng, matrix, n_boot)
    if baseline is not None:
        per_problem = per_problem - baseline[None, :]
    return float(point), *_interval(per_problem, problems)


def paired_difference(
    a: np.ndarray, b: np.ndarray, n_boot: int = 2000, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float, float]:
    """Mean accuracy of seeds × problems matrix `a` minus that of `b` (columns: the same
    problems) with a 95% percentile interval. Each resample draws problems with
    replacement, the same ones for both sides (paired: a problem's difficulty cancels),
    and each side's seeds with replacement, independently (different training runs)."""
    point = a.mean() - b.mean()
    if a.shape[1] < 2:
        return float(point), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    problems = rng.integers(0, a.shape[1], size=(n_boot, a.shape[1]))
    per_problem = _seed_means(rng, a, n_boot) - _seed_means(rng, b, n_boot)
    return float(point), *_interval(per_problem, problems)


def _seed_means(rng: np.random.Generator, matrix: np.ndarray, n_boot: int) -> np.ndarray:
    """n_boot × problems: each resample's mean over seeds drawn with replacement."""
    n_seeds = len(matrix)
    weights = np.stack(
        [np.bincount(s, minlength=n_seeds) / n_seeds for s in rng.integers(0, n_seeds, size=(n_boot, n_seeds))]
    )
    return weights @ matrix


def _interval(per_problem: np.ndarray, problems: np.ndarray) -> tuple[float, float]:
    """2.5 and 97.5 percentiles of the resamples' means over their drawn problems."""
    stats = np.take_along_axis(per_problem, problems, axis=1).mean(axis=1)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def seed_variance(matrix: np.ndarray) -> float:
    """Sample variance (ddof 1) of the per-seed accuracies of a seeds × problems matrix:
    how much training seeds (and a selection drawn per seed) move the accuracy. NaN with
    one seed."""
    return float(matrix.mean(axis=1).var(ddof=1)) if len(matrix) > 1 else float("nan")


def seeds_to_resolve(variance_a: float, variance_b: float, difference: float) -> float:
    """Seeds per strategy with which a true accuracy difference d is resolved (its 95%
    interval excludes 0) in 80% of studies, from the seeds' variances s²:
    n = ⌈(z₀.₉₇₅ + z₀.₈)² (s_a² + s_b²) / d²⌉ (at least 1). The seeds' spread only: the
    evaluation problems add width that more seeds do not remove. NaN when a variance is
    unknown (one seed), inf for d = 0."""
    if math.isnan(variance_a) or math.isnan(variance_b):
        return float("nan")
    if difference == 0:
        return float("inf")
    return float(max(1, math.ceil((Z_95 + Z_POWER) ** 2 * (variance_a + variance_b) / difference**2)))


def unanswered(predictions: pd.DataFrame) -> float:
    """Share of answers that were empty or held no parsable answer (not merely wrong or hedged)."""
    return float(predictions["reason"].isin(["empty", "no_answer", "unparsable"]).mean())


def linear_fit(x, y) -> dict:
    """Least-squares line y = slope·x + intercept and its R² (NaN with < 3 points or no
    spread in x)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.ptp(x) == 0:
        return dict(slope=float("nan"), intercept=float("nan"), r2=float("nan"), n=len(x))
    slope, intercept = np.polyfit(x, y, 1)
    total = np.sum((y - y.mean()) ** 2)
    r2 = 1 - np.sum((y - (slope * x + intercept)) ** 2) / total if total > 0 else float("nan")
    return dict(slope=float(slope), intercept=float(intercept), r2=float(r2), n=len(x))
