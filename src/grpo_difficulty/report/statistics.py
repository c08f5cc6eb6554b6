"""Statistics of the report: correctness matrices, the seeded bootstrap over problems
and seeds, and the least-squares fit of accuracy change on learnable %."""

from __future__ import annotations

import numpy as np
import pandas as pd

BOOTSTRAP_SEED = 0


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
    n_seeds, n_problems = matrix.shape
    point = matrix.mean() - (baseline.mean() if baseline is not None else 0.0)
    if n_problems < 2:
        return float(point), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    problems = rng.integers(0, n_problems, size=(n_boot, n_problems))
    seed_weights = np.stack(
        [np.bincount(s, minlength=n_seeds) / n_seeds for s in rng.integers(0, n_seeds, size=(n_boot, n_seeds))]
    )
    per_problem = seed_weights @ matrix  # n_boot × problems: mean over the drawn seeds
    if baseline is not None:
        per_problem = per_problem - baseline[None, :]
    stats = np.take_along_axis(per_problem, problems, axis=1).mean(axis=1)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(point), float(lo), float(hi)


def unanswered(predictions: pd.DataFrame) -> float:
    """Share of answers that were empty or held no parsable answer (not merely wrong)."""
    return float((~predictions["reason"].isin(["correct", "wrong"])).mean())


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
