"""Report: compare strategies against the base model, with bootstrap intervals over
seeds and problems, accuracy vs training steps, steps-to-match, tables and plots.

A *run* is one trained adapter: (subset, seed). An evaluation *point* is one run's
predictions on one eval set at one training step (step 0 = the base model, the last
step = the run's final adapter). Intervals are 95% percentile bootstrap intervals that
resample problems and seeds together, seeded so that the report is reproducible.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display on cluster nodes
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from .evaluate import mean_pass_at_k, sampled_accuracy

BOOTSTRAP_SEED = 0
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


# --------------------------------------------------------------------------- statistics
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


# --------------------------------------------------------------------------- tables
def summary_table(
    runs: list[dict], base: dict[str, pd.DataFrame], pass_k: list[int] = (), n_boot: int = 2000
) -> pd.DataFrame:
    """One row per (eval set, subset, seed) and one 'all (n)' row per (eval set, subset)
    pooling its seeds: greedy accuracy with its interval, change vs base with its
    interval, sampled accuracy and pass@k (when sampled), the learnable % the probe
    predicted for the subset beside the one training measured, steps, wall time.

    Each run dict: eval_set, subset, strategy, seed, predictions (DataFrame), train_info (dict),
    predicted_learnable_pct (the subset's, from its stats).
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
        out.update(
            predicted_learnable_pct=float(np.mean([m["predicted_learnable_pct"] for m in members])),
            learnable_pct=info["learnable_pct"].mean(),
            steps=info["steps"].mean(),
            wall_seconds=info["wall_seconds"].mean(),
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


def comparison_markdown(table: pd.DataFrame) -> str:
    head = [
        "eval set",
        "experiment",
        "model",
        "train set",
        "subset",
        "seeds",
        "accuracy % (95% CI)",
        "base %",
        "Δ vs base (95% CI)",
        "learnable %",
        "steps",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table.to_dict("records"):
        cells = [
            r["eval_set"],
            r["experiment"],
            r["model"],
            r["train_set"],
            r["subset"],
            r["seed"],
            _interval(r["accuracy"], r["accuracy_lo"], r["accuracy_hi"]),
            _pct(r["base_accuracy"]),
            _interval(r["delta"], r["delta_lo"], r["delta_hi"], "+"),
            f"{r['learnable_pct']:.1f}",
            f"{r['steps']:.0f}",
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def per_run_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The summary rows of single runs (not the pooled 'all (n)' rows)."""
    return table[~table["seed"].str.startswith("all")]


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
    """Per (eval set, subset): the first evaluated step at which the subset's accuracy
    reaches the full-data run's final accuracy within its 95% interval (≥ its lower
    bound), as a fraction of the full run's steps. status: 'reached', 'not reached'
    (never within the evaluated steps), or 'full run' for the reference itself.
    Empty when the experiment has no full-data subset (strategy `all`)."""
    columns = [
        "eval_set",
        "subset",
        "strategy",
        "full_accuracy",
        "full_lo",
        "full_hi",
        "full_steps",
        "step",
        "fraction",
        "status",
    ]
    if full_subset is None or curves.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for eval_set, curve in curves.groupby("eval_set", sort=False):
        full = curve[curve["subset"] == full_subset].sort_values("step").iloc[-1]
        for subset, c in curve.groupby("subset", sort=False):
            reached = c[c["accuracy"] >= full["accuracy_lo"]].sort_values("step")
            status = "full run" if subset == full_subset else "reached" if len(reached) else "not reached"
            step = float(reached["step"].iloc[0]) if len(reached) else float("nan")
            rows.append(
                dict(
                    eval_set=eval_set,
                    subset=subset,
                    strategy=c["strategy"].iloc[0],
                    full_accuracy=full["accuracy"],
                    full_lo=full["accuracy_lo"],
                    full_hi=full["accuracy_hi"],
                    full_steps=int(full["step"]),
                    step=step,
                    fraction=step / full["step"],
                    status=status,
                )
            )
    return pd.DataFrame(rows, columns=columns)


def _pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.1f}"


def _interval(mean: float, lo: float, hi: float, sign: str = "") -> str:
    if pd.isna(lo):
        return f"{100 * mean:{sign}.1f}"
    return f"{100 * mean:{sign}.1f} [{100 * lo:{sign}.1f}, {100 * hi:{sign}.1f}]"


def markdown(
    table: pd.DataFrame,
    fit: dict | None = None,
    steps: pd.DataFrame | None = None,
    pass_k: list[int] = (),
    full_subset: str | None = None,
    every_steps: int | None = None,
    difficulty: str | None = None,
) -> str:
    """The report as Markdown: where the difficulty that subsets were selected by came
    from, the summary table (accuracies in %, 95% bootstrap intervals), predicted vs
    measured learnable %, the learnable-% fit, and steps-to-match."""
    extra = [f"pass@{k} % (base)" for k in pass_k]
    sampled = table["sampled_accuracy"].notna().any()
    head = (
        ["eval set", "subset", "strategy", "seed", "accuracy % (95% CI)", "base %", "Δ vs base (95% CI)"]
        + (["sampled acc %"] if sampled else [])
        + extra
        + ["no answer %", "predicted learnable %", "learnable %", "steps", "wall s"]
    )
    lines = [f"**Difficulty source** (training subsets were selected by): {difficulty}", ""] if difficulty else []
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table.to_dict("records"):
        cells = [
            r["eval_set"],
            r["subset"],
            r["strategy"],
            r["seed"],
            _interval(r["accuracy"], r["accuracy_lo"], r["accuracy_hi"]),
            _pct(r["base_accuracy"]),
            _interval(r["delta"], r["delta_lo"], r["delta_hi"], "+"),
        ]
        cells += [_pct(r["sampled_accuracy"])] if sampled else []
        cells += [f"{_pct(r[f'pass@{k}'])} ({_pct(r[f'base_pass@{k}'])})" for k in pass_k]
        cells += [
            _pct(r["no_answer"]),
            f"{r['predicted_learnable_pct']:.1f}",
            f"{r['learnable_pct']:.1f}",
            f"{r['steps']:.0f}",
            f"{r['wall_seconds']:.0f}",
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    runs = per_run_rows(table[table["eval_set"] == table["eval_set"].iloc[0]])
    gap = runs["learnable_pct"] - runs["predicted_learnable_pct"]
    lines += [
        "",
        f"**Predicted vs measured learnable %** (one value per run; predicted from the probe's pass "
        f"rates as 1 − p^G − (1 − p)^G): measured − predicted = {gap.mean():+.1f} points on average "
        f"(from {gap.min():+.1f} to {gap.max():+.1f}), {len(runs)} runs",
    ]
    if fit is not None:
        r2 = "n/a (no spread in the change)" if pd.isna(fit["r2"]) else f"{fit['r2']:.2f}"
        lines += [
            "",
            f"**Learnable % vs accuracy change** (one point per run, eval set {table['eval_set'].iloc[0]}): "
            + (
                f"Δ points = {fit['slope']:.3f} × learnable % {fit['intercept']:+.2f}, R² = {r2}, {fit['n']} points"
                if not pd.isna(fit["slope"])
                else f"no fit ({fit['n']} points; needs ≥ 3 with different learnable %)"
            ),
        ]
    if steps is not None:
        lines += ["", "**Steps to match the full-data run**"]
        if full_subset is None:
            lines.append("not computed: no subset has strategy `all` (the full-data reference)")
        else:
            if every_steps is None:
                lines.append(
                    "(only the base model and final adapters were evaluated: set `evaluate.every_steps` "
                    "for intermediate checkpoints)"
                )
            lines += [
                "",
                "| eval set | subset | full run final % (95% CI) | first"
                " step within it | fraction of full steps | status |",
                "|---|---|---|---|---|---|",
            ]
            for r in steps.to_dict("records"):
                step = "—" if pd.isna(r["step"]) else f"{r['step']:.0f}"
                frac = "—" if pd.isna(r["fraction"]) else f"{r['fraction']:.2f}"
                lines.append(
                    f"| {r['eval_set']} | {r['subset']} | {_interval(r['full_accuracy'], r['full_lo'], r['full_hi'])} "
                    f"| {step} | {frac} | {r['status']} |"
                )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- plots
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
    """Per run: the learnable % the probe predicted for its subset against the learnable %
    its training measured, with the line where they agree."""
    runs = per_run_rows(table)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for i, (subset, group) in enumerate(runs.groupby("subset")):
        ax.scatter(
            group["predicted_learnable_pct"], group["learnable_pct"], label=subset, marker=MARKERS[i % len(MARKERS)]
        )
    ax.plot([0, 100], [0, 100], "k--", lw=1, label="measured = predicted")
    ax.set_xlim(-3, 103)
    ax.set_ylim(-3, 103)
    gap = (runs["learnable_pct"] - runs["predicted_learnable_pct"]).mean()
    ax.set_xlabel("predicted learnable % (probe: mean of 1 − p^G − (1 − p)^G)")
    ax.set_ylabel("measured learnable % (training)")
    ax.set_title(f"Predicted vs measured learnable %\n{len(runs)} runs, mean gap {gap:+.1f} points", fontsize=10)
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


# --------------------------------------------------------------------------- the whole report
def make_report(
    base: dict[str, pd.DataFrame],
    points: list[dict],
    train_info: dict[tuple, dict],
    metrics: dict[tuple, pd.DataFrame],
    pass_rates: pd.DataFrame,
    subset_stats: dict[str, dict],
    settings: dict,
    out: dict,
) -> str:
    """Write every table and plot of the report; returns the Markdown.

    base: eval set → base predictions; points: dicts eval_set, subset, strategy, seed,
    step (None = final adapter), predictions; train_info / metrics: by (subset, seed);
    subset_stats: subset → its select stats (predicted_learnable_pct);
    settings: k, pass_k, bootstrap, full_subset, every_steps, train_set, experiment,
    model, difficulty (where the pass rates came from); out: output
    paths (csv, markdown, tiers_csv, curves_csv, steps_csv and the PNGs).
    """
    from .files import write_table, write_text

    n_boot = settings["bootstrap"]
    # the caller's dicts stay as they are; the final adapter's step is its run's length
    points = [
        dict(
            p,
            train_info=train_info[(p["subset"], p["seed"])],
            predicted_learnable_pct=subset_stats[p["subset"]]["predicted_learnable_pct"],
        )
        for p in points
    ]
    final = [p for p in points if p["step"] is None]
    points = [dict(p, step=p["train_info"]["steps"] if p["step"] is None else p["step"]) for p in points]
    table = summary_table(final, base, settings["pass_k"], n_boot)
    table.insert(0, "experiment", settings["experiment"])  # for comparisons across experiments
    table.insert(1, "model", settings["model"])
    table.insert(2, "train_set", settings["train_set"])
    table.insert(3, "difficulty", settings["difficulty"])
    first = per_run_rows(table)
    first = first[first["eval_set"] == next(iter(base))]
    fit = linear_fit(first["learnable_pct"], 100 * first["delta"])
    tiers = tier_table(final, base, n_boot)
    curves = accuracy_curves(points, base, n_boot)
    steps = steps_to_match(curves, settings["full_subset"])
    text = markdown(
        table, fit, steps, settings["pass_k"], settings["full_subset"], settings["every_steps"], settings["difficulty"]
    )
    write_table(table, out["csv"])
    write_table(tiers, out["tiers_csv"])
    write_table(curves, out["curves_csv"])
    write_table(steps, out["steps_csv"])
    write_text(text, out["markdown"])
    plot_pass_rates(pass_rates, settings["k"], out["pass_rates"], settings["train_set"])
    plot_tier_accuracy(tiers, out["tiers"])
    plot_accuracy_steps(curves, steps, out["steps"])
    plot_learnable_vs_gain(table[table["eval_set"] == next(iter(base))], fit, out["learnable"])
    plot_predicted_learnable(table[table["eval_set"] == next(iter(base))], out["predicted"])
    plot_training_curves(
        pd.concat([m.assign(subset=s, seed=seed) for (s, seed), m in metrics.items()]), out["training"]
    )
    return text
