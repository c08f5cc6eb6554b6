"""The report's tables: the summary per run and per subset, accuracy per tier, accuracy
vs training steps, steps-to-match, the strategies' pairwise differences, and the
comparison across experiments."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..evaluate import mean_pass_at_k, sampled_accuracy
from .statistics import bootstrap, correctness_matrix, paired_difference, seed_variance, seeds_to_resolve, unanswered

STEPS_COLUMNS = [
    "eval_set",
    "subset",
    "strategy",
    "base_accuracy",
    "full_accuracy",
    "full_lo",
    "full_hi",
    "full_beats_base",
    "full_steps",
    "step",
    "fraction",
    "status",
]
PAIRWISE_COLUMNS = [
    "eval_set",
    "subset_a",
    "strategy_a",
    "seeds_a",
    "subset_b",
    "strategy_b",
    "seeds_b",
    "accuracy_a",
    "accuracy_b",
    "difference",
    "difference_lo",
    "difference_hi",
    "resolved",
    "seed_sd_a",
    "seed_sd_b",
    "seeds_to_resolve",
    "no_gradient",
]


# a subset's predicted learnable % and its 95% interval for one run, from its select stats
PREDICTION = ("predicted_learnable_pct", "predicted_learnable_lo", "predicted_learnable_hi")


def no_gradient(metrics: pd.DataFrame) -> bool:
    """Did every step of a run train on nothing? Every group's rewards were equal at every
    step (TRL's frac_reward_zero_std 1: all advantages 0, loss 0) and the gradient norm
    was 0: the adapter is the base model, whatever its Δ shows."""
    return bool((metrics["frac_reward_zero_std"] == 1).all() and (metrics["grad_norm"] == 0).all())


def summary_table(
    runs: list[dict], base: dict[str, pd.DataFrame], pass_k: list[int] = (), n_boot: int = 2000
) -> pd.DataFrame:
    """One row per (eval set, subset, seed) and one 'all (n)' row per (eval set, subset)
    pooling its seeds: greedy accuracy with its interval, change vs base with its
    interval, sampled accuracy and pass@k (when sampled), the learnable % the probe
    predicted for the subset (with its interval for one run: none on pooled rows) beside
    the one training measured (groups whose correctness differs), the base check's (the
    base model's samples of the same steps; NaN without train.base_check) and the drift
    (training's − the base check's), TRL's figure over the total reward, steps, wall time.

    Each run dict: eval_set, subset, strategy, seed, predictions (DataFrame), train_info (dict),
    PREDICTION's keys (the subset's, from its stats) and no_gradient (`no_gradient` of its
    metrics; a pooled row has it when every seed's run has).
    """
    rows = []

    def row(eval_set, subset, strategy, seed, members):
        preds = [m["predictions"] for m in members]
        matrix, ids = correctness_matrix(preds)
        baseline = correctness_matrix([base[eval_set]], ids)[0][0]
        acc, acc_lo, acc_hi = bootstrap(matrix, None, n_boot)
        delta, lo, hi = bootstrap(matrix, baseline, n_boot)
        info = pd.DataFrame([m["train_info"] for m in members])
        out = dict(
            eval_set=eval_set,
            subset=subset,
            strategy=strategy,
            seed=seed,
            accuracy=acc,
            accuracy_lo=acc_lo,
            accuracy_hi=acc_hi,
            base_accuracy=float(baseline.mean()),
            delta=delta,
            delta_lo=lo,
            delta_hi=hi,
            no_answer=float(np.mean([unanswered(p) for p in preds])),
            sampled_accuracy=float(np.mean([sampled_accuracy(p) for p in preds])),
        )
        for k in pass_k:
            out[f"pass@{k}"] = float(np.mean([mean_pass_at_k(p, k) for p in preds]))
            out[f"base_pass@{k}"] = mean_pass_at_k(base[eval_set], k)
        one = len(members) == 1
        base_check = pd.to_numeric(info.get("learnable_base_pct", pd.Series(np.nan, index=info.index)))
        out.update(
            predicted_learnable_pct=float(np.mean([m["predicted_learnable_pct"] for m in members])),
            predicted_learnable_lo=members[0]["predicted_learnable_lo"] if one else np.nan,
            predicted_learnable_hi=members[0]["predicted_learnable_hi"] if one else np.nan,
            learnable_pct=info["learnable_pct"].mean(),
            learnable_total_pct=info["learnable_total_pct"].mean(),
            # the base model on the same steps (train.base_check; NaN for runs without it)
            learnable_base_pct=base_check.mean(),
            drift=(info["learnable_pct"] - base_check).mean(),
            steps=info["steps"].mean(),
            wall_seconds=info["wall_seconds"].mean(),
            no_gradient=all(m["no_gradient"] for m in members),
        )
        return out

    for run in runs:
        rows.append(row(run["eval_set"], run["subset"], run["strategy"], str(run["seed"]), [run]))
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault((run["eval_set"], run["subset"]), []).append(run)
    for (eval_set, subset), members in groups.items():
        rows.append(row(eval_set, subset, members[0]["strategy"], f"all ({len(members)})", members))
    return pd.DataFrame(rows)


def compare_experiments(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The pooled-seed rows of several experiments' summary tables on the eval sets they
    all have (matched by name), e.g. GSM8K-trained vs MATH-trained runs on numeric MATH."""
    shared = set.intersection(*(set(t["eval_set"]) for t in tables))
    if not shared:
        names = [t["experiment"].iloc[0] for t in tables]
        raise ValueError(f"compare_with: experiments {names} share no eval set (eval sets are matched by name)")
    rows = pd.concat(tables, ignore_index=True)
    pooled = rows["seed"].astype(str).str.startswith("all")
    return (
        rows[rows["eval_set"].isin(shared) & pooled]
        .sort_values(["eval_set", "experiment", "subset"], kind="stable")
        .reset_index(drop=True)
    )


def per_run_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The summary rows of single runs (not the pooled 'all (n)' rows)."""
    return table[~table["seed"].str.startswith("all")]


def prediction_gap(runs: pd.DataFrame, measured: str) -> tuple[pd.Series, pd.Series]:
    """Per run with a value in column `measured` (a learnable %): measured − predicted, and
    whether the measurement lies in the prediction's 95% interval for one run."""
    runs = runs[runs[measured].notna()]
    gap = runs[measured] - runs["predicted_learnable_pct"]
    return gap, runs[measured].between(runs["predicted_learnable_lo"], runs["predicted_learnable_hi"])


def tier_table(points: list[dict], base: dict[str, pd.DataFrame], n_boot: int = 2000) -> pd.DataFrame:
    """Accuracy per (eval set, model, tier) pooled over seeds, with bootstrap intervals.
    `points`: final-step run dicts (eval_set, subset, predictions); the base model is
    the model 'base'."""
    by_model: dict[tuple, list[pd.DataFrame]] = {(e, "base"): [p] for e, p in base.items()}
    for p in points:
        by_model.setdefault((p["eval_set"], p["subset"]), []).append(p["predictions"])
    rows = []
    for (eval_set, model), preds in by_model.items():
        matrix, ids = correctness_matrix(preds)
        tiers = preds[0].set_index("id")["tier"].reindex(ids).to_numpy()
        for tier in sorted(set(tiers)):
            acc, lo, hi = bootstrap(matrix[:, tiers == tier], None, n_boot)
            rows.append(
                dict(
                    eval_set=eval_set,
                    model=model,
                    tier=int(tier),
                    n=int((tiers == tier).sum()),
                    accuracy=acc,
                    accuracy_lo=lo,
                    accuracy_hi=hi,
                )
            )
    return pd.DataFrame(rows)


def accuracy_curves(points: list[dict], base: dict[str, pd.DataFrame], n_boot: int = 2000) -> pd.DataFrame:
    """Accuracy per (eval set, subset, step) pooled over seeds, with intervals; step 0
    is the base model. `points`: dicts eval_set, subset, strategy, seed, step, predictions."""
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        groups.setdefault((p["eval_set"], p["subset"], p["step"]), []).append(p)
    rows = []
    for (eval_set, subset, step), members in groups.items():
        acc, lo, hi = bootstrap(correctness_matrix([m["predictions"] for m in members])[0], None, n_boot)
        rows.append(
            dict(
                eval_set=eval_set,
                subset=subset,
                strategy=members[0]["strategy"],
                step=int(step),
                seeds=len(members),
                accuracy=acc,
                accuracy_lo=lo,
                accuracy_hi=hi,
            )
        )
    curves = pd.DataFrame(rows)
    starts = []
    for (eval_set, subset, strategy), _ in curves.groupby(["eval_set", "subset", "strategy"], sort=False):
        acc, lo, hi = bootstrap(correctness_matrix([base[eval_set]])[0], None, n_boot)
        starts.append(
            dict(
                eval_set=eval_set,
                subset=subset,
                strategy=strategy,
                step=0,
                seeds=0,
                accuracy=acc,
                accuracy_lo=lo,
                accuracy_hi=hi,
            )
        )
    return pd.concat([pd.DataFrame(starts), curves]).sort_values(["eval_set", "subset", "step"], ignore_index=True)


def steps_to_match(curves: pd.DataFrame, full_subset: str | None) -> pd.DataFrame:
    """Per (eval set, subset): the first evaluated training step (never step 0, the base
    model) at which the subset's accuracy reaches the full-data run's final accuracy
    within its 95% interval (≥ its lower bound), as a fraction of the full run's steps.
    status: 'reached', 'not reached' (never within the evaluated steps), or 'full run'
    for the reference itself. full_beats_base: the full run's final interval lies above
    the base model's accuracy; when it does not, matching it shows no learning.
    Empty when the experiment has no full-data subset (strategy `all`)."""
    if full_subset is None or curves.empty:
        return pd.DataFrame(columns=STEPS_COLUMNS)
    rows = []
    for eval_set, curve in curves.groupby("eval_set", sort=False):
        full = curve[curve["subset"] == full_subset].sort_values("step").iloc[-1]
        base = curve.loc[curve["step"] == 0, "accuracy"].iloc[0]
        for subset, c in curve.groupby("subset", sort=False):
            reached = c[(c["step"] > 0) & (c["accuracy"] >= full["accuracy_lo"])].sort_values("step")
            status = "full run" if subset == full_subset else "reached" if len(reached) else "not reached"
            step = float(reached["step"].iloc[0]) if len(reached) else float("nan")
            rows.append(
                dict(
                    eval_set=eval_set,
                    subset=subset,
                    strategy=c["strategy"].iloc[0],
                    base_accuracy=base,
                    full_accuracy=full["accuracy"],
                    full_lo=full["accuracy_lo"],
                    full_hi=full["accuracy_hi"],
                    full_beats_base=bool(full["accuracy_lo"] > base),
                    full_steps=int(full["step"]),
                    step=step,
                    fraction=step / full["step"],
                    status=status,
                )
            )
    return pd.DataFrame(rows, columns=STEPS_COLUMNS)


def pairwise_differences(points: list[dict], n_boot: int = 2000) -> pd.DataFrame:
    """Every pair of subsets per eval set (in config order): accuracy of a minus that of
    b, seeds pooled, with a 95% paired bootstrap interval (statistics.paired_difference);
    resolved when the interval excludes 0; each side's seed standard deviation and the
    seeds per strategy that would resolve the observed difference (seeds_to_resolve);
    no_gradient when no run of either side had one (both are the base model).
    `points`: final-step run dicts (eval_set, subset, strategy, predictions, no_gradient)."""
    groups: dict[tuple, list[dict]] = {}
    for p in points:
        groups.setdefault((p["eval_set"], p["subset"]), []).append(p)
    rows = []
    for (eval_set, a), (other_set, b) in itertools.combinations(groups, 2):
        if other_set != eval_set:
            continue
        matrix_a, ids = correctness_matrix([m["predictions"] for m in groups[eval_set, a]])
        matrix_b = correctness_matrix([m["predictions"] for m in groups[eval_set, b]], ids)[0]
        difference, lo, hi = paired_difference(matrix_a, matrix_b, n_boot)
        var_a, var_b = seed_variance(matrix_a), seed_variance(matrix_b)
        rows.append(
            dict(
                eval_set=eval_set,
                subset_a=a,
                strategy_a=groups[eval_set, a][0]["strategy"],
                seeds_a=len(matrix_a),
                subset_b=b,
                strategy_b=groups[eval_set, b][0]["strategy"],
                seeds_b=len(matrix_b),
                accuracy_a=float(matrix_a.mean()),
                accuracy_b=float(matrix_b.mean()),
                difference=difference,
                difference_lo=lo,
                difference_hi=hi,
                resolved=bool(lo > 0 or hi < 0),
                seed_sd_a=float(np.sqrt(var_a)),
                seed_sd_b=float(np.sqrt(var_b)),
                seeds_to_resolve=seeds_to_resolve(var_a, var_b, difference),
                no_gradient=all(m["no_gradient"] for m in groups[eval_set, a] + groups[eval_set, b]),
            )
        )
    return pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)
