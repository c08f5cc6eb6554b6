"""The report's Markdown (summary.md) and the comparison across experiments'
(comparison.md). Each section is a function returning its lines, so that a section is
added or moved in one place (markdown())."""

from __future__ import annotations

import pandas as pd

from .settings import ReportSettings
from .statistics import seeds_to_resolve
from .tables import PREDICTION, per_run_rows, prediction_gap

# true differences (accuracy, 0–1) the seeds-needed lines size the seeds for
DIFFERENCE_SIZES = (0.02, 0.05, 0.10)
# the Δ cell of a run that trained on nothing (tables.no_gradient), instead of its +0.0
NO_GRADIENT = "no gradient: every group's rewards were equal"
NO_GRADIENT_PAIR = "no gradient in any run of either: both are the base model"  # a pairwise difference


def _pct(x: float, sign: str = "") -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:{sign}.1f}"


def _interval(mean: float, lo: float, hi: float, sign: str = "") -> str:
    if pd.isna(lo):
        return f"{100 * mean:{sign}.1f}"
    return f"{100 * mean:{sign}.1f} [{100 * lo:{sign}.1f}, {100 * hi:{sign}.1f}]"


def markdown(
    table: pd.DataFrame,
    settings: ReportSettings,
    fit: dict | None = None,
    steps: pd.DataFrame | None = None,
    pairwise: pd.DataFrame | None = None,
    selection_warnings: list[str] = (),
) -> str:
    """The report as Markdown: the probe's and training's sampling settings (its first
    line), the warnings that the study may not teach (the selections', runs without
    gradient), where the difficulty that subsets were selected by came from, which subsets
    were drawn per training seed, the summary table (accuracies in %, 95% bootstrap
    intervals), predicted vs measured learnable %, the learnable-% fit, the strategies
    compared pairwise with the seeds a difference needs, and steps-to-match; one blank
    line between sections, a section without lines left out."""
    sections = [
        [f"**Sampling**: {settings.sampling}"],
        warnings_section(table, selection_warnings),
        source_section(settings),
        selections_section(table, settings),
        summary_section(table, settings.pass_k),
        learnable_section(table),
        fit_section(table, fit),
        pairwise_section(pairwise),
        seeds_section(pairwise),
        steps_section(steps, settings),
    ]
    lines: list[str] = []
    for section in filter(None, sections):
        lines += ([""] if lines else []) + section
    return "\n".join(lines) + "\n"


def warnings_section(table: pd.DataFrame, selection_warnings: list[str]) -> list[str]:
    """One bullet per warning: rule check_selections' (subsets predicted barely learnable,
    subsets selecting the same problems), then the runs that trained on nothing."""
    runs = per_run_rows(table[table["eval_set"] == table["eval_set"].iloc[0]])
    flat = [f"{r['subset']} seed {r['seed']}" for r in runs[runs["no_gradient"]].to_dict("records")]
    lines = [f"- **Warning**: {warning}" for warning in selection_warnings]
    if flat:
        lines.append(
            f"- **Warning**: {NO_GRADIENT} at every training step of {', '.join(flat)} (loss 0, gradient "
            "norm 0): each such adapter is the base model, and the summary says so instead of a change"
        )
    return lines


def source_section(settings: ReportSettings) -> list[str]:
    if not settings.difficulty:
        return []
    return [f"**Difficulty source** (training subsets were selected by): {settings.difficulty}"]


def selections_section(table: pd.DataFrame, settings: ReportSettings) -> list[str]:
    """Which subsets were drawn anew per training seed (their pooled intervals hold the
    selection's variance) and which are one selection for every seed (they do not)."""
    subsets = list(dict.fromkeys(table["subset"]))
    per_seed = [s for s in subsets if s in settings.per_seed]
    shared = [s for s in subsets if s not in settings.per_seed]
    parts = []
    if per_seed:
        parts.append(
            f"{', '.join(per_seed)}: drawn anew for every training seed (`per_seed`), so their intervals "
            "include the selection's variance"
        )
    if shared:
        parts.append(
            f"{', '.join(shared)}: one selection read by every seed, so their intervals leave the "
            "selection's variance out"
        )
    return ["**Selections**: " + "; ".join(parts)]


def summary_section(table: pd.DataFrame, pass_k: list[int]) -> list[str]:
    """The summary table: one row per run and one pooled row per subset, per eval set."""
    extra = [f"pass@{k} % (base)" for k in pass_k]
    sampled = table["sampled_accuracy"].notna().any()
    checked = table["learnable_base_pct"].notna().any()  # runs with train.base_check
    head = (
        ["eval set", "subset", "strategy", "seed", "accuracy % (95% CI)", "base %", "Δ vs base (95% CI)"]
        + (["sampled acc %"] if sampled else [])
        + extra
        + ["no answer %", "predicted learnable %", "learnable %"]
        + (["learnable % (base check)", "drift"] if checked else [])
        + ["learnable % (total reward)", "steps", "wall s"]
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table.to_dict("records"):
        cells = [
            r["eval_set"],
            r["subset"],
            r["strategy"],
            r["seed"],
            _interval(r["accuracy"], r["accuracy_lo"], r["accuracy_hi"]),
            _pct(r["base_accuracy"]),
            NO_GRADIENT if r["no_gradient"] else _interval(r["delta"], r["delta_lo"], r["delta_hi"], "+"),
        ]
        cells += [_pct(r["sampled_accuracy"])] if sampled else []
        cells += [f"{_pct(r[f'pass@{k}'])} ({_pct(r[f'base_pass@{k}'])})" for k in pass_k]
        cells += [
            _pct(r["no_answer"]),
            _interval(*(r[key] / 100 for key in PREDICTION)),
            f"{r['learnable_pct']:.1f}",
        ]
        cells += [_pct(r["learnable_base_pct"] / 100), _pct(r["drift"] / 100, "+")] if checked else []
        cells += [f"{r['learnable_total_pct']:.1f}", f"{r['steps']:.0f}", f"{r['wall_seconds']:.0f}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


def learnable_section(table: pd.DataFrame) -> list[str]:
    """The prediction against training's learnable % and, for runs with train.base_check,
    against the base check's (the prediction's own check), and the drift between them."""
    runs = per_run_rows(table[table["eval_set"] == table["eval_set"].iloc[0]])
    gap, inside = prediction_gap(runs, "learnable_pct")
    lines = [
        "**Predicted vs measured learnable %** (one value per run; predicted from the probe as the "
        "posterior mean of 1 − p^G − (1 − p)^G, each problem's pass rate p Beta-distributed with a prior "
        "fitted to the probe's counts, with the 95% interval of a run's groups, for the base model: "
        f"training moves p): measured − predicted = {gap.mean():+.1f} points on average "
        f"(|measured − predicted| {gap.abs().mean():.1f}, from {gap.min():+.1f} to {gap.max():+.1f}), "
        f"measured inside the interval in {int(inside.sum())} of {len(runs)} runs",
    ]
    checked, inside = prediction_gap(runs, "learnable_base_pct")
    if checked.empty:
        return lines
    drift = runs["drift"].dropna()
    return lines + [
        "",
        "**Predicted vs base check** (the base model's own G samples of each training step's prompts, "
        "with training's sampling settings and correctness reward: what the prediction predicts): "
        f"base check − predicted = {checked.mean():+.1f} points on average (|base check − predicted| "
        f"{checked.abs().mean():.1f}, from {checked.min():+.1f} to {checked.max():+.1f}), base check inside "
        f"the interval in {int(inside.sum())} of {len(checked)} runs. **Drift** (training's learnable % − the "
        f"base check's, how far training moved the policy from the base model): {drift.mean():+.1f} points on "
        f"average (from {drift.min():+.1f} to {drift.max():+.1f})",
    ]


def fit_section(table: pd.DataFrame, fit: dict | None) -> list[str]:
    if fit is None:
        return []
    r2 = "n/a (no spread in the change)" if pd.isna(fit["r2"]) else f"{fit['r2']:.2f}"
    return [
        f"**Learnable % vs accuracy change** (one point per run, eval set {table['eval_set'].iloc[0]}): "
        + (
            f"Δ points = {fit['slope']:.3f} × learnable % {fit['intercept']:+.2f}, R² = {r2}, {fit['n']} points"
            if not pd.isna(fit["slope"])
            else f"no fit ({fit['n']} points; needs ≥ 3 with different learnable %)"
        ),
    ]


def pairwise_section(pairwise: pd.DataFrame | None) -> list[str]:
    """The table of every pair's difference, then one sentence per eval set on which
    differences are resolved."""
    if pairwise is None or pairwise.empty:
        return []
    lines = [
        "**Strategies compared** (accuracy of subset a − subset b in points, seeds pooled; 95% paired "
        "bootstrap interval: the same evaluation problems resampled for both, each side's seeds "
        "resampled; resolved: the interval excludes 0)",
        "",
        "| eval set | a | b | a − b (95% CI) | resolved | seed SD a / b | seeds to resolve it |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in pairwise.to_dict("records"):
        lines.append(
            f"| {r['eval_set']} | {r['subset_a']} | {r['subset_b']} | "
            f"{NO_GRADIENT_PAIR if r['no_gradient'] else _difference(r)} | "
            f"{'yes' if r['resolved'] else 'no'} | {_pct(r['seed_sd_a'])} / {_pct(r['seed_sd_b'])} | "
            f"{_count(r['seeds_to_resolve'])} |"
        )
    lines.append("")
    for eval_set, pairs in pairwise.groupby("eval_set", sort=False):
        resolved = pairs[pairs["resolved"]].to_dict("records")
        unresolved = pairs[~pairs["resolved"]].to_dict("records")
        sentence = f"On {eval_set}, {len(resolved)} of {len(pairs)} differences are resolved"
        if resolved:
            sentence += ": " + "; ".join(f"{r['subset_a']} − {r['subset_b']} {_difference(r)}" for r in resolved)
        if unresolved:
            sentence += "; not resolved: " + ", ".join(f"{r['subset_a']} − {r['subset_b']}" for r in unresolved)
        lines.append(sentence + ".")
    return lines


def seeds_section(pairwise: pd.DataFrame | None) -> list[str]:
    """How many seeds per strategy would resolve a difference of each of DIFFERENCE_SIZES,
    from the seeds' variance pooled over an eval set's subsets, with the formula."""
    if pairwise is None or pairwise.empty:
        return []
    lines = [
        "**Seeds needed** (from the seeds' spread): n = ⌈(z₀.₉₇₅ + z₀.₈)² (s_a² + s_b²) / d²⌉ seeds per "
        "strategy resolve a true difference d (their 95% interval excludes 0) in 80% of studies, s being "
        "a strategy's standard deviation of accuracy over seeds; the evaluation problems add width that "
        "more seeds do not remove",
        "",
    ]
    for eval_set, pairs in pairwise.groupby("eval_set", sort=False):
        sd = pd.concat([pairs.set_index("subset_a")["seed_sd_a"], pairs.set_index("subset_b")["seed_sd_b"]])
        known = sd[~sd.index.duplicated()].dropna()
        if known.empty:
            lines.append(f"- {eval_set}: not estimated (needs ≥ 2 seeds per subset)")
            continue
        variance = float((known**2).mean())
        sizes = ", ".join(
            f"{_count(seeds_to_resolve(variance, variance, d))} seeds for d = {100 * d:.0f} points"
            for d in DIFFERENCE_SIZES
        )
        lines.append(f"- {eval_set} (s = {_pct(variance**0.5)} points, pooled over {len(known)} subsets): {sizes}")
    return lines


def steps_section(steps: pd.DataFrame | None, settings: ReportSettings) -> list[str]:
    if steps is None:
        return []
    lines = ["**Steps to match the full-data run**"]
    if settings.full_subset is None:
        return lines + ["not computed: no subset has strategy `all` (the full-data reference)"]
    lines.append("(training steps only: the base model, step 0, never counts as a match)")
    if settings.every_steps is None:
        lines.append(
            "(only the base model and final adapters were evaluated: set `evaluate.every_steps` "
            "for intermediate checkpoints)"
        )
    lines += [
        "",
        "| eval set | subset | full run final % (95% CI) | first step within it | fraction of full steps | status |",
        "|---|---|---|---|---|---|",
    ]
    for r in steps.to_dict("records"):
        step = "—" if pd.isna(r["step"]) else f"{r['step']:.0f}"
        frac = "—" if pd.isna(r["fraction"]) else f"{r['fraction']:.2f}"
        lines.append(
            f"| {r['eval_set']} | {r['subset']} | {_interval(r['full_accuracy'], r['full_lo'], r['full_hi'])} "
            f"| {step} | {frac} | {r['status']} |"
        )
    for r in steps.drop_duplicates("eval_set").to_dict("records"):
        if not r["full_beats_base"]:
            lines += [
                "",
                f"On {r['eval_set']} the full-data run does not beat the base model: its final accuracy "
                f"{_interval(r['full_accuracy'], r['full_lo'], r['full_hi'])} does not lie above the base "
                f"model's {_pct(r['base_accuracy'])}, so matching it shows no learning.",
            ]
    return lines


def _difference(r: dict) -> str:
    return _interval(r["difference"], r["difference_lo"], r["difference_hi"], "+")


def _count(n: float) -> str:
    return "n/a" if pd.isna(n) else "∞" if n == float("inf") else f"{n:.0f}"


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
