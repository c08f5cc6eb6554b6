"""Evaluate a model (base or base+adapter) on a held-out set: greedy accuracy, and
optionally sampled accuracy and unbiased pass@k from n samples per problem."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import answering
from .config.sections import EvaluateConfig, PromptConfig

PREDICTION_COLUMNS = [
    "id",
    "tier",
    "subject",
    "completion",
    "n_tokens",
    "correct",
    "reason",
    "n_samples",
    "n_samples_correct",
]
SAMPLE_COLUMNS = ["id", "sample", "completion", "n_tokens", "correct", "reason"]


def predict(
    generator, rows: pd.DataFrame, prompt: PromptConfig, settings: EvaluateConfig, desc: str, scorer=None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-problem table, per-sample table).

    The per-problem table holds one greedy answer per problem, scored, plus how many of
    `settings.samples` sampled answers were correct; the per-sample table keeps every
    sampled completion for audit (empty when `samples` is 0, the cheap default). `scorer`:
    the eval set's plugin scorer, if it has one.
    """
    greedy = answering.answer_greedy(generator, rows, prompt, settings.max_new_tokens, desc, scorer)
    n = settings.samples
    if n:
        samples = answering.answer_problems(
            generator,
            rows,
            prompt,
            n=n,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_new_tokens=settings.max_new_tokens,
            seed=settings.seed,
            desc=f"{desc} samples",
            scorer=scorer,
        )
        counts = samples.groupby("id")["correct"].sum()
    else:
        samples = pd.DataFrame(columns=SAMPLE_COLUMNS).astype({"sample": int, "n_tokens": int, "correct": bool})
        counts = pd.Series(dtype=int)
    table = greedy.merge(rows[["id", "tier", "subject"]], on="id")
    table["n_samples"] = n
    table["n_samples_correct"] = table["id"].map(counts).fillna(0).astype(int)
    return table[PREDICTION_COLUMNS], samples[SAMPLE_COLUMNS]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k) (Chen et
    al. 2021), as a running product so that large n does not overflow."""
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs 1 <= k <= n samples (n = {n})")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def samples_per_problem(predictions: pd.DataFrame) -> int:
    return int(predictions["n_samples"].iloc[0]) if len(predictions) else 0


def mean_pass_at_k(predictions: pd.DataFrame, k: int) -> float:
    """Mean unbiased pass@k over problems (NaN without k samples per problem)."""
    n = samples_per_problem(predictions)
    if n < k:
        return float("nan")
    return float(np.mean([pass_at_k(n, int(c), k) for c in predictions["n_samples_correct"]]))


def sampled_accuracy(predictions: pd.DataFrame) -> float:
    """Share of correct sampled answers (NaN without samples)."""
    n = samples_per_problem(predictions)
    return float((predictions["n_samples_correct"] / n).mean()) if n else float("nan")


def _scores(predictions: pd.DataFrame, pass_k: list[int]) -> dict:
    """Greedy accuracy, and with samples the sampled accuracy and mean pass@k."""
    out = dict(accuracy=float(predictions["correct"].mean()), n=len(predictions))
    if samples_per_problem(predictions):
        out["sampled_accuracy"] = sampled_accuracy(predictions)
        out.update({f"pass@{k}": mean_pass_at_k(predictions, k) for k in pass_k})
    return out


def default_pass_k(n: int) -> list[int]:
    """pass@k written to summary.json: powers of two up to n, and n (the report computes
    the configured `evaluate.pass_k` from the per-problem counts, without re-evaluating)."""
    return sorted({2**i for i in range(n.bit_length()) if 2**i <= n} | ({n} if n else set()))


def summarize(predictions: pd.DataFrame) -> dict:
    """Scores overall, per tier and per subject, and how wrong greedy answers failed."""
    pass_k = default_pass_k(samples_per_problem(predictions))
    summary = _scores(predictions, pass_k)
    summary["per_tier"] = {int(t): _scores(g, pass_k) for t, g in predictions.groupby("tier")}
    summary["per_subject"] = {str(s): _scores(g, pass_k) for s, g in predictions.groupby("subject")}
    summary["reasons"] = {str(k): int(v) for k, v in predictions["reason"].value_counts().sort_index().items()}
    return summary
