"""Select: training subsets from pass rates: the probe's, or those a dataset ships with
(`fields.pass_rate`, e.g. measured by its authors; then there is no greedy answer, so
base_wrong / base_right are unavailable).

Strategies (budget = a count, or a fraction of the probed problems when ≤ 1.0):
  easy / hard    highest / lowest pass rate
  medium         the middle of the pass-rate ranking (as in Pikus et al. 2025)
  random         uniform sample
  band           pass rate in [lo, hi]; all of them, or a random `budget` of them
  base_wrong / base_right   greedy answer wrong / right; all, or a random `budget`
  tier           dataset tiers in `tiers` (e.g. MATH levels 1–3); all, or a random `budget`
  all            every probed problem
Ties in the ranking are broken by a seeded random order, so a seed fixes the subset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import RANKED_STRATEGIES, SubsetConfig

STRATEGIES = ("easy", "medium", "hard", "random", "band", "base_wrong", "base_right", "tier", "all")


def budget_count(budget: float | int | None, total: int, name: str) -> int | None:
    if budget is None:
        return None
    count = int(round(budget * total)) if isinstance(budget, float) and budget <= 1.0 else int(budget)
    if count < 1:
        raise ValueError(f"subsets.{name}.budget={budget} selects no problem out of {total}")
    if count > total:
        raise ValueError(f"subsets.{name}.budget={budget} exceeds the {total} probed problems")
    return count


def difficulty_table(rows: pd.DataFrame, probe_rates: pd.DataFrame | None = None) -> pd.DataFrame:
    """The training problems with each one's pass rate: the probe's, joined on id (with
    K, counts and the greedy answer), or without a probe the dataset's shipped pass_rate."""
    if probe_rates is None:
        if "pass_rate" not in rows:
            raise ValueError("no probe pass rates given and the training data ships none (fields.pass_rate)")
        return rows
    return rows.drop(columns="pass_rate", errors="ignore").merge(probe_rates.drop(columns="tier"), on="id")


def select_subset(table: pd.DataFrame, name: str, spec: SubsetConfig, seed: int) -> pd.DataFrame:
    """Rows of `table` (see difficulty_table) chosen by `spec`."""
    strategy = spec.strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"subsets.{name}.strategy={strategy!r} not in {list(STRATEGIES)}")
    if strategy in ("base_wrong", "base_right") and "greedy_correct" not in table:
        raise ValueError(f"subsets.{name}: strategy {strategy} needs the probe's greedy answers; the pass rates "
                         "shipped with the data have none")
    rng = np.random.default_rng(seed)
    # seeded shuffle first, then a stable sort: equal pass rates keep the shuffled order
    shuffled = table.iloc[rng.permutation(len(table))].reset_index(drop=True)
    count = budget_count(spec.budget, len(table), name)
    if strategy in RANKED_STRATEGIES and count is None:
        raise ValueError(f"subsets.{name}: strategy {strategy!r} needs a budget")
    if strategy == "easy":
        chosen = shuffled.sort_values("pass_rate", ascending=False, kind="stable").head(count)
    elif strategy == "hard":
        chosen = shuffled.sort_values("pass_rate", ascending=True, kind="stable").head(count)
    elif strategy == "medium":
        ranked = shuffled.sort_values("pass_rate", kind="stable")
        start = (len(ranked) - count) // 2
        chosen = ranked.iloc[start:start + count]
    elif strategy == "random":
        chosen = shuffled.head(count)
    else:
        if strategy == "band":
            lo, hi = spec.lo, spec.hi
            if lo > hi:
                raise ValueError(f"subsets.{name}: lo={lo} > hi={hi}")
            pool = shuffled[shuffled["pass_rate"].between(lo, hi)]
        elif strategy == "base_wrong":
            pool = shuffled[~shuffled["greedy_correct"]]
        elif strategy == "base_right":
            pool = shuffled[shuffled["greedy_correct"]]
        elif strategy == "tier":
            pool = shuffled[shuffled["tier"].isin(spec.tiers)]
        else:  # all
            pool = shuffled
        if count is not None and count > len(pool):
            raise ValueError(f"subsets.{name}: budget {count} but only {len(pool)} problems qualify")
        chosen = pool.head(count) if count is not None else pool
    if chosen.empty:
        raise ValueError(f"subsets.{name} ({strategy}) is empty: no probed problem qualifies")
    return chosen.reset_index(drop=True)


def subset_stats(subset: pd.DataFrame, name: str, spec: SubsetConfig) -> dict:
    """What a subset holds: size, pass-rate summary and its source, share of learnable
    (mixed) problems."""
    mixed = (subset["pass_rate"] > 0) & (subset["pass_rate"] < 1)
    probed = "greedy_correct" in subset
    return dict(
        subset=name, strategy=spec.strategy, n=len(subset), difficulty="probe" if probed else "shipped",
        mean_pass_rate=float(subset["pass_rate"].mean()),
        frac_mixed=float(mixed.mean()), frac_all_wrong=float((subset["pass_rate"] == 0).mean()),
        frac_all_right=float((subset["pass_rate"] == 1).mean()),
        frac_greedy_correct=float(subset["greedy_correct"].mean()) if probed else None,
        tiers={int(k): int(v) for k, v in subset["tier"].value_counts().sort_index().items()},
    )
