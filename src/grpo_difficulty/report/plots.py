"""The report's plots (PNGs registered for `snakemake --report`; each has a caption in
report/<its file name>.rst)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display on cluster nodes
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from .tables import per_run_rows, prediction_gap

MARKERS = "osD^v<>pX*"  # lines of subsets with equal accuracy stay distinguishable
TRAINING_CURVES = {
    "reward": "reward (mean over the batch)",
    "reward_std": "reward std within groups",
    "frac_reward_zero_std": "fraction of groups with zero reward std",
    "completions/mean_length": "completion length (tokens)",
}
# Steps of the trailing rolling mean drawn over the training curves' raw points (with one
# prompt per step a step's values are those of a single group). report/training_curves.rst
# states it.
CURVE_WINDOW = 10


def _save(fig, path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _panels(n: int, width: float = 6, height: float = 4):
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, axes[0]


def plot_pass_rates(pass_rates: pd.DataFrame, k: int, path: str, dataset: str = "training set") -> None:
    """Histogram of correct samples out of K, stacked by tier; of the pass rate itself
    (20 bins) when it shipped with the data (no counts: nothing was probed)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    probed = "n_correct" in pass_rates
    column, bins = ("n_correct", np.arange(k + 2) - 0.5) if probed else ("pass_rate", np.linspace(0, 1, 21))
    tiers = sorted(pass_rates["tier"].unique()) if "tier" in pass_rates else [None]
    values = (
        [pass_rates.loc[pass_rates["tier"] == t, column] for t in tiers]
        if tiers[0] is not None
        else [pass_rates[column]]
    )
    ax.hist(values, bins=bins, stacked=True, label=[f"tier {t}" for t in tiers], edgecolor="white")
    ax.set_ylabel("problems")
    if probed:
        ax.set_xlabel(f"correct samples out of K={k}")
        ax.set_xticks(range(k + 1))
    else:
        ax.set_xlabel("pass rate shipped with the data")
    mixed = ((pass_rates["pass_rate"] > 0) & (pass_rates["pass_rate"] < 1)).mean()
    source = "Base model pass rates" if probed else "Shipped pass rates"
    ax.set_title(f"{source}: {dataset}, {len(pass_rates)} problems ({100 * mixed:.0f}% mixed)")
    if len(tiers) > 1:
        ax.legend(fontsize=7, ncol=2, title="tier", title_fontsize=7)
    _save(fig, path)


def plot_tier_accuracy(tiers: pd.DataFrame, path: str) -> None:
    """Grouped bars per eval set: accuracy per tier, one bar per model (base first),
    with 95% bootstrap intervals."""
    eval_sets = list(dict.fromkeys(tiers["eval_set"]))
    bars = max(g["tier"].nunique() for _, g in tiers.groupby("eval_set")) * tiers["model"].nunique()
    fig, axes = _panels(len(eval_sets), width=float(np.clip(2 + 0.2 * bars, 6, 14)))
    for ax, eval_set in zip(axes, eval_sets, strict=True):
        t = tiers[tiers["eval_set"] == eval_set]
        models = ["base"] + sorted(m for m in t["model"].unique() if m != "base")
        levels = sorted(t["tier"].unique())
        width = 0.8 / len(models)
        for i, model in enumerate(models):
            m = t[t["model"] == model].set_index("tier").reindex(levels)
            err = np.vstack([m["accuracy"] - m["accuracy_lo"], m["accuracy_hi"] - m["accuracy"]]).clip(min=0)
            ax.bar(
                np.arange(len(levels)) + i * width,
                100 * m["accuracy"],
                width,
                label=model,
                yerr=100 * np.nan_to_num(err),
                capsize=2,
                error_kw=dict(lw=0.8),
            )
        ax.set_xticks(np.arange(len(levels)) + 0.4 - width / 2, [str(x) for x in levels])
        ax.set_xlabel("tier")
        ax.set_ylabel("greedy accuracy % (95% CI)")
        ax.set_ylim(0, 105)
        ax.set_title(f"{eval_set}: accuracy per tier (seeds pooled)")
        ax.legend(fontsize=7)
    _save(fig, path)


def plot_accuracy_steps(curves: pd.DataFrame, steps: pd.DataFrame, path: str) -> None:
    """Accuracy vs training step per subset (seeds pooled, 95% band), the full-data
    run's final interval as a grey band."""
    eval_sets = list(dict.fromkeys(curves["eval_set"]))
    fig, axes = _panels(len(eval_sets))
    for ax, eval_set in zip(axes, eval_sets, strict=True):
        c = curves[curves["eval_set"] == eval_set]
        for i, (subset, s) in enumerate(c.groupby("subset", sort=False)):
            s = s.sort_values("step")
            (line,) = ax.plot(s["step"], 100 * s["accuracy"], marker=MARKERS[i % len(MARKERS)], ms=4, label=subset)
            ax.fill_between(
                s["step"], 100 * s["accuracy_lo"], 100 * s["accuracy_hi"], color=line.get_color(), alpha=0.15
            )
        ref = steps[steps["eval_set"] == eval_set] if not steps.empty else steps
        if not ref.empty:
            r = ref.iloc[0]
            ax.axhspan(
                100 * r["full_lo"], 100 * r["full_hi"], color="grey", alpha=0.2, label="full-data final (95% CI)"
            )
        ax.set_xlabel("training step (0 = base model)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("greedy accuracy %")
        ax.set_title(f"{eval_set}: accuracy vs steps")
        ax.legend(fontsize=7)
    _save(fig, path)


def plot_learnable_vs_gain(table: pd.DataFrame, fit: dict, path: str) -> None:
    """Scatter of learnable % vs accuracy change per run, with the fitted line and R²."""
    runs = per_run_rows(table)
    fig, ax = plt.subplots(figsize=(6, 4))
    for subset, group in runs.groupby("subset"):
        ax.scatter(group["learnable_pct"], 100 * group["delta"], label=subset)
    title = "Learnable % vs accuracy change"
    if not pd.isna(fit["slope"]):
        xs = np.linspace(runs["learnable_pct"].min(), runs["learnable_pct"].max(), 10)
        ax.plot(
            xs,
            fit["slope"] * xs + fit["intercept"],
            "k--",
            lw=1,
            label=f"fit: {fit['slope']:.2f}·x {fit['intercept']:+.1f}",
        )
        title += f" (R² = {'n/a' if pd.isna(fit['r2']) else format(fit['r2'], '.2f')}, {fit['n']} points)"
    else:
        title += f" ({fit['n']} points, no fit)"
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("learnable % (groups with reward variance)")
    ax.set_ylabel("accuracy change vs base (points)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    _save(fig, path)


def rolling_mean(per_step: pd.Series) -> pd.Series:
    """Trailing mean over CURVE_WINDOW steps (over the steps so far at the start)."""
    return per_step.rolling(CURVE_WINDOW, min_periods=1).mean()


def plot_predicted_learnable(table: pd.DataFrame, path: str) -> None:
    """Per run: the learnable % the probe predicted for its subset, with its 95% interval
    for one run (horizontal bar), against the learnable % its training measured and (x,
    runs with train.base_check) the base check's, with the line where they agree."""
    runs = per_run_rows(table)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for i, (subset, group) in enumerate(runs.groupby("subset")):
        x = group["predicted_learnable_pct"]
        bars = ax.errorbar(
            x,
            group["learnable_pct"],
            # the interval is of a run's share (multiples of 1/groups): it can leave the mean out
            xerr=np.maximum(0, [x - group["predicted_learnable_lo"], group["predicted_learnable_hi"] - x]),
            fmt=MARKERS[i % len(MARKERS)],
            capsize=3,
            label=f"{subset} (training)",
        )
        if group["learnable_base_pct"].notna().any():
            color = bars.lines[0].get_color()
            ax.scatter(x, group["learnable_base_pct"], marker="x", color=color, label=f"{subset} (base check)")
    ax.plot([0, 100], [0, 100], "k--", lw=1, label="measured = predicted")
    ax.set_xlim(-3, 103)
    ax.set_ylim(-3, 103)
    title = ["Predicted vs measured learnable %"]
    for measured, name in (("learnable_pct", "training"), ("learnable_base_pct", "base check")):
        gap, inside = prediction_gap(runs, measured)
        if len(gap):
            title.append(
                f"{name}: mean |gap| {gap.abs().mean():.1f} points, "
                f"{int(inside.sum())} of {len(gap)} inside the interval"
            )
    ax.set_xlabel("predicted learnable % (probe; bars: 95% for one run)")
    ax.set_ylabel("measured learnable % (training; x: base check)")
    ax.set_title("\n".join(title), fontsize=9)
    ax.legend(fontsize=7)
    _save(fig, path)


def plot_training_curves(metrics: pd.DataFrame, path: str) -> None:
    """Per-step training metrics (TRL's log) per subset, mean over seeds: reward, reward
    std, fraction of zero-std groups, completion length; raw points, and a line of their
    trailing rolling mean over CURVE_WINDOW steps (fewer at the start)."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (column, label) in zip(axes.flat, TRAINING_CURVES.items(), strict=True):
        if column not in metrics:
            ax.text(0.5, 0.5, f"{column} not logged", ha="center", transform=ax.transAxes)
        else:
            for i, (subset, m) in enumerate(metrics.groupby("subset", sort=False)):
                mean = m.groupby("step")[column].mean()
                color = colors[i % len(colors)]
                ax.plot(mean.index, mean.values, ".", color=color, alpha=0.3, ms=3)
                smooth = rolling_mean(mean)
                ax.plot(smooth.index, smooth.values, color=color, label=subset, lw=1.5)
            ax.legend(fontsize=7)
        ax.set_xlabel("training step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(label)
    fig.suptitle(
        f"GRPO training curves (mean over seeds; points: steps, lines: rolling mean over {CURVE_WINDOW} steps)"
    )
    _save(fig, path)
