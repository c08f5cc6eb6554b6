"""Report: compare strategies against the base model, with intervals, tables and plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display on cluster nodes
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

Z95 = 1.959964


def paired_delta(run: pd.DataFrame, base: pd.DataFrame) -> tuple[float, float, float]:
    """Accuracy change vs base on the same problems, with a 95% normal interval.

    `run` may hold several seeds: each problem's correctness is averaged over seeds
    first, so the interval reflects both the problem sample and the seed spread.
    """
    per_problem = run.groupby("id")["correct"].mean()
    diff = per_problem - base.set_index("id")["correct"].reindex(per_problem.index).astype(float)
    if diff.isna().any():
        raise ValueError("run and base were evaluated on different problems")
    half = Z95 * diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    mean = float(diff.mean())
    return mean, mean - half, mean + half


def unanswered(predictions: pd.DataFrame) -> float:
    """Share of answers that were empty or held no parsable answer (not merely wrong)."""
    return float((~predictions["reason"].isin(["correct", "wrong"])).mean())


def summary_table(runs: list[dict], base: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (eval set, subset, seed) and one 'all seeds' row per (eval set, subset).

    Each run dict: eval_set, subset, strategy, seed, predictions (DataFrame), train_info (dict).
    """
    rows = []
    for run in runs:
        delta, lo, hi = paired_delta(run["predictions"], base[run["eval_set"]])
        info = run["train_info"]
        rows.append(dict(eval_set=run["eval_set"], subset=run["subset"], strategy=run["strategy"],
                         seed=str(run["seed"]), accuracy=float(run["predictions"]["correct"].mean()),
                         no_answer=unanswered(run["predictions"]),
                         base_accuracy=float(base[run["eval_set"]]["correct"].mean()),
                         delta=delta, delta_lo=lo, delta_hi=hi, learnable_pct=info["learnable_pct"],
                         steps=info["steps"], wall_seconds=info["wall_seconds"]))
    table = pd.DataFrame(rows)
    pooled = []
    for (eval_set, subset), group in table.groupby(["eval_set", "subset"], sort=False):
        members = [r for r in runs if r["eval_set"] == eval_set and r["subset"] == subset]
        delta, lo, hi = paired_delta(pd.concat([r["predictions"] for r in members]), base[eval_set])
        pooled.append(dict(eval_set=eval_set, subset=subset, strategy=group["strategy"].iloc[0],
                           seed=f"all ({len(group)})", accuracy=group["accuracy"].mean(),
                           no_answer=group["no_answer"].mean(),
                           base_accuracy=group["base_accuracy"].iloc[0], delta=delta,
                           delta_lo=lo, delta_hi=hi, learnable_pct=group["learnable_pct"].mean(),
                           steps=group["steps"].mean(), wall_seconds=group["wall_seconds"].mean()))
    return pd.concat([table, pd.DataFrame(pooled)], ignore_index=True)


def markdown(table: pd.DataFrame) -> str:
    """The summary as a Markdown table, accuracies in %."""
    lines = ["| eval set | subset | strategy | seed | accuracy % | base % | Δ vs base (95% CI) | no answer % | learnable % | steps | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.eval_set} | {r.subset} | {r.strategy} | {r.seed} | {100 * r.accuracy:.1f} | "
                     f"{100 * r.base_accuracy:.1f} | {100 * r.delta:+.1f} [{100 * r.delta_lo:+.1f}, "
                     f"{100 * r.delta_hi:+.1f}] | {100 * r.no_answer:.1f} | {r.learnable_pct:.1f} | {r.steps:.0f} | {r.wall_seconds:.0f} |")
    return "\n".join(lines) + "\n"


def plot_pass_rates(pass_rates: pd.DataFrame, k: int, path: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.arange(k + 2) - 0.5
    ax.hist(pass_rates["n_correct"], bins=bins, color="#4c72b0", edgecolor="white")
    ax.set_xlabel(f"correct samples out of K={k}")
    ax.set_ylabel("problems")
    ax.set_title(f"Base model pass rates on {len(pass_rates)} training problems")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_tier_accuracy(per_tier: pd.DataFrame, path: str) -> None:
    """Grouped bars: accuracy per tier, one bar per model (base first)."""
    table = per_tier.pivot_table(index="tier", columns="model", values="correct", aggfunc="mean")
    models = ["base"] + sorted(c for c in table.columns if c != "base")
    table = table[models]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(table) * len(models) / 2), 4))
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        ax.bar(np.arange(len(table)) + i * width, 100 * table[model], width, label=model)
    ax.set_xticks(np.arange(len(table)) + 0.4 - width / 2, table.index.astype(str))
    ax.set_xlabel("tier")
    ax.set_ylabel("greedy accuracy %")
    ax.set_title("Held-out accuracy per tier (seeds averaged)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_learnable_vs_gain(table: pd.DataFrame, path: str) -> None:
    """Scatter of learnable % vs accuracy change per run, with a least-squares line and R²."""
    runs = table[~table["seed"].str.startswith("all")]
    fig, ax = plt.subplots(figsize=(6, 4))
    for subset, group in runs.groupby("subset"):
        ax.scatter(group["learnable_pct"], 100 * group["delta"], label=subset)
    x, y = runs["learnable_pct"].to_numpy(float), 100 * runs["delta"].to_numpy(float)
    title = "Learnable % vs accuracy change"
    if len(runs) >= 3 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        r2 = 1 - np.sum((y - (slope * x + intercept)) ** 2) / max(np.sum((y - y.mean()) ** 2), 1e-12)
        xs = np.linspace(x.min(), x.max(), 10)
        ax.plot(xs, slope * xs + intercept, "k--", lw=1)
        title += f" (R² = {r2:.2f}, {len(runs)} runs)"
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("learnable % (groups with reward variance)")
    ax.set_ylabel("accuracy change vs base (points)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
