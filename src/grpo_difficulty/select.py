"""Select: training subsets from pass rates: the probe's, or those a dataset ships with
(`fields.pass_rate`, e.g. measured by its authors; then there is no greedy answer, so
base_wrong / base_right are unavailable).

Strategies (budget = a count, or a fraction of the probed problems when ≤ 1.0):
  easy / hard    highest / lowest pass rate
  medium         the middle of the pass-rate ranking (as in Pikus et al. 2025)
  learnable      highest expected learnable probability E[1 − p^G − (1 − p)^G] under each
                 problem's pass-rate posterior (prediction.py; column expected_learnable)
  random         uniform sample
  band           pass rate in [lo, hi]; all of them, or a random `budget` of them
  base_wrong / base_right   greedy answer wrong / right; all, or a random `budget`
  tier           dataset tiers in `tiers` (e.g. MATH levels 1–3); all, or a random `budget`
  all            every probed problem
Ties in the ranking are broken by a seeded random order, so a seed fixes the subset.
Each subset has a random stream of its own (selection_seed), and one per training seed
with `per_seed`.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from .config.sections import SubsetConfig

# Every strategy, by how it chooses (config/schema.yaml's enum is tested equal to it):
# `ranked` cuts a ranking (by pass rate, or a random order) at the budget, so it needs one;
# `pooled` keeps the problems that qualify, all of them or a random budget of them.
STRATEGIES = dict(
    easy="ranked",
    medium="ranked",
    hard="ranked",
    learnable="ranked",
    random="ranked",
    band="pooled",
    base_wrong="pooled",
    base_right="pooled",
    tier="pooled",
    all="pooled",
)


def needs_budget(strategy: str) -> bool:
    return STRATEGIES[strategy] == "ranked"


def draws_at_random(strategy: str, budget) -> bool:
    """Whether the selection is a random draw (beyond breaking ties): `random`, or a
    budget of a pooled strategy's qualifying problems."""
    return strategy == "random" or (STRATEGIES[strategy] == "pooled" and budget is not None)


def selection_seed(select_seed: int, name: str, train_seed: int | None = None) -> list[int]:
    """Entropy of a subset's random stream: select_seed and the subset's name (a stable
    hash: adding, removing or renaming another subset changes no draw), and with per_seed
    the training seed (tagged 1: numpy's seeds ignore trailing zeros)."""
    stream = [select_seed, zlib.crc32(name.encode())]
    return stream if train_seed is None else [*stream, 1, train_seed]


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


def select_subset(table: pd.DataFrame, name: str, spec: SubsetConfig, seed: int | list[int]) -> pd.DataFrame:
    """Rows of `table` (see difficulty_table) chosen by `spec`, drawn from the random
    stream `seed` (selection_seed's)."""
    strategy = spec.strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"subsets.{name}.strategy={strategy!r} not in {list(STRATEGIES)}")
    if strategy in ("base_wrong", "base_right") and "greedy_correct" not in table:
        raise ValueError(
            f"subsets.{name}: strategy {strategy} needs the probe's greedy answers; the pass rates "
            "shipped with the data have none"
        )
    rng = np.random.default_rng(seed)
    # seeded shuffle first, then a stable sort: equal pass rates keep the shuffled order
    shuffled = table.iloc[rng.permutation(len(table))].reset_index(drop=True)
    count = budget_count(spec.budget, len(table), name)
    if needs_budget(strategy) and count is None:
        raise ValueError(f"subsets.{name}: strategy {strategy!r} needs a budget")
    if strategy == "easy":
        chosen = shuffled.sort_values("pass_rate", ascending=False, kind="stable").head(count)
    elif strategy == "hard":
        chosen = shuffled.sort_values("pass_rate", ascending=True, kind="stable").head(count)
    elif strategy == "medium":
        ranked = shuffled.sort_values("pass_rate", kind="stable")
        start = (len(ranked) - count) // 2
        chosen = ranked.iloc[start : start + count]
    elif strategy == "learnable":
        if "expected_learnable" not in table:
            raise ValueError(
                f"subsets.{name}: strategy learnable needs each problem's expected_learnable "
                "(prediction.with_expected_learnable)"
            )
        chosen = shuffled.sort_values("expected_learnable", ascending=False, kind="stable").head(count)
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


def selection_cutoffs(table: pd.DataFrame, subset: pd.DataFrame, spec: SubsetConfig) -> list[float]:
    """The pass rates at which a selection cuts the probed problems: for easy / hard /
    medium, midway between the last chosen and the first left-out pass rate on the side(s)
    the ranking is cut (easy below, hard above, medium both); a band's edges inside
    (0, 1); none for strategies that do not choose by pass rate."""
    strategy = spec.strategy
    if strategy == "band":
        return [edge for edge in (spec.lo, spec.hi) if 0 < edge < 1]
    rest = table.loc[~table["id"].isin(subset["id"]), "pass_rate"]
    lowest, highest = subset["pass_rate"].min(), subset["pass_rate"].max()
    cutoffs = []
    below, above = rest[rest <= lowest], rest[rest >= highest]
    if strategy in ("easy", "medium") and len(below):
        cutoffs.append(float((lowest + below.max()) / 2))
    if strategy in ("hard", "medium") and len(above):
        cutoffs.append(float((highest + above.min()) / 2))
    return cutoffs


def subset_stats(
    subset: pd.DataFrame,
    name: str,
    spec: SubsetConfig,
    group_size: int,
    cutoffs: list[float] = (),
    train_seed: int | None = None,
) -> dict:
    """What a subset holds: size, pass-rate summary and its source, share of learnable (mixed)
    problems, the group size G of its predicted learnable % (prediction.subset_prediction
    adds it), and how many chosen problems have a 95% pass-rate interval containing a
    selection cut-off (their side of the cut is not settled by K samples; None without a
    cut-off or without a probe: shipped pass rates carry no interval); train_seed: the
    training seed it was drawn for (per_seed), None when every seed reads it."""
    mixed = (subset["pass_rate"] > 0) & (subset["pass_rate"] < 1)
    probed = "greedy_correct" in subset
    cutoffs = list(cutoffs) if probed else []
    over = [(subset["pass_rate_lo"] <= c) & (c <= subset["pass_rate_hi"]) for c in cutoffs]
    return dict(
        subset=name,
        strategy=spec.strategy,
        train_seed=train_seed,
        n=len(subset),
        difficulty="probe" if probed else "shipped",
        mean_pass_rate=float(subset["pass_rate"].mean()),
        frac_mixed=float(mixed.mean()),
        frac_all_wrong=float((subset["pass_rate"] == 0).mean()),
        frac_all_right=float((subset["pass_rate"] == 1).mean()),
        frac_greedy_correct=float(subset["greedy_correct"].mean()) if probed else None,
        num_generations=group_size,
        cutoffs=cutoffs,
        n_interval_over_cutoff=int(np.logical_or.reduce(over).sum()) if over else None,
        tiers={int(k): int(v) for k, v in subset["tier"].value_counts().sort_index().items()},
    )


def cutoff_summary(stats: dict, k: int) -> str:
    """The select log's sentence on how settled the selection is at this K."""
    if stats["n_interval_over_cutoff"] is None:
        return f"{stats['subset']}: no pass-rate cut-off (strategy {stats['strategy']})"
    cuts = ", ".join(f"{c:.3f}" for c in stats["cutoffs"])
    return (
        f"{stats['subset']}: {stats['n_interval_over_cutoff']} of {stats['n']} chosen problems have a 95% "
        f"pass-rate interval containing the cut-off {cuts}: with K={k} samples their side of the cut is "
        "not settled"
    )


def selection_warnings(selections: list[dict], min_predicted_learnable: float) -> list[str]:
    """What makes a study unable to teach, named before any training (rule
    check_selections): a subset whose predicted learnable % is below the threshold
    (report.min_predicted_learnable), and subsets that select the same problems. Each
    selection: subset, seed (the training seed that reads it), ids, stats (its select
    stats); a selection every seed reads is named once."""
    warnings: list[str] = []

    def add(message: str) -> None:
        if message not in warnings:
            warnings.append(message)

    def drawn_for(members: list[dict]) -> str:
        seeds = {m["stats"]["train_seed"] for m in members} - {None}
        return f" (drawn for training seed {members[0]['seed']})" if seeds else ""

    for s in selections:
        stats = s["stats"]
        if stats["predicted_learnable_pct"] < min_predicted_learnable:
            add(
                f"subset {s['subset']}{drawn_for([s])}: predicted learnable {stats['predicted_learnable_pct']:.1f}% "
                f"(95% interval for one run [{stats['predicted_learnable_lo']:.1f}, "
                f"{stats['predicted_learnable_hi']:.1f}]) is below report.min_predicted_learnable = "
                f"{min_predicted_learnable:g}%: few of its groups will hold a right and a wrong answer, so "
                "GRPO gets little or no gradient from it"
            )
    for seed in dict.fromkeys(s["seed"] for s in selections):
        same: dict[frozenset, list[dict]] = {}
        for s in selections:
            if s["seed"] == seed:
                same.setdefault(frozenset(s["ids"]), []).append(s)
        for ids, members in same.items():
            if len(members) > 1:
                names = [m["subset"] for m in members]
                add(
                    f"subsets {', '.join(names[:-1])} and {names[-1]} select the same {len(ids)} problems"
                    f"{drawn_for(members)}: their runs train on the same data and cannot tell the strategies apart"
                )
    return warnings
