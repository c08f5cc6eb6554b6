"""Evaluate: greedy accuracy of a model (base or base+adapter) on a held-out set."""

from __future__ import annotations

import pandas as pd

from . import tasks

PREDICTION_COLUMNS = ["id", "tier", "completion", "n_tokens", "correct", "reason"]


def predict(generator, rows: pd.DataFrame, prompt: dict, max_new_tokens: int, desc: str) -> pd.DataFrame:
    """Per-problem table: one greedy answer per problem, scored."""
    answers = tasks.answer_problems(generator, rows, prompt, n=1, temperature=0.0, top_p=1.0,
                                    max_new_tokens=max_new_tokens, seed=0, desc=desc)
    return answers.merge(rows[["id", "tier"]], on="id")[PREDICTION_COLUMNS]


def summarize(predictions: pd.DataFrame) -> dict:
    """Accuracy overall and per tier, and how wrong answers failed (reason codes)."""
    per_tier = predictions.groupby("tier")["correct"].agg(["mean", "size"])
    return dict(
        n=len(predictions), accuracy=float(predictions["correct"].mean()),
        per_tier={int(t): dict(accuracy=float(r["mean"]), n=int(r["size"])) for t, r in per_tier.iterrows()},
        reasons={str(k): int(v) for k, v in predictions["reason"].value_counts().sort_index().items()},
    )
