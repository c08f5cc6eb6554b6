"""The report's Markdown (summary.md) and the comparison across experiments'
(comparison.md). Each section is a function returning its lines, so that a section is
added or moved in one place (markdown())."""

from __future__ import annotations

import pandas as pd

from .settings import ReportSettings
from .tables import per_run_rows


def _pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{100 * x:.1f}"


def _interval(mean: float, lo: float, hi: float, sign: str = "") -> str:
    if pd.isna(lo):
        return f"{100 * mean:{sign}.1f}"
    return f"{100 * mean:{sign}.1f} [{100 * lo:{sign}.1f}, {100 * hi:{sign}.1f}]"


def markdown(
    table: pd.DataFrame, settings: ReportSettings, fit: dict | None = None, steps: pd.DataFrame | None = None
) -> str:
    """The report as Markdown: where the difficulty that subsets were selected by came
    from, the summary table (accuracies in %, 95% bootstrap intervals), predicted vs
    measured learnable %, the learnable-% fit, and steps-to-match; one blank line
    between sections, a section without lines left out."""
    sections = [
        source_section(settings),
        summary_section(table, settings.pass_k),
        learnable_section(table),
        fit_section(table, fit),
        steps_section(steps, settings),
    ]
    lines: list[str] = []
    for section in filter(None, sections):
        lines += ([""] if lines else []) + section
    return "\n".join(lines) + "\n"


def source_section(settings: ReportSettings) -> list[str]:
    if not settings.difficulty:
        return []
    return [f"**Difficulty source** (training subsets were selected by): {settings.difficulty}"]


def summary_section(table: pd.DataFrame, pass_k: list[int]) -> list[str]:
    """The summary table: one row per run and one pooled row per subset, per eval set."""
    extra = [f"pass@{k} % (base)" for k in pass_k]
    sampled = table["sampled_accuracy"].notna().any()
    head = (
        ["eval set", "subset", "strategy", "seed", "accuracy % (95% CI)", "base %", "Δ vs base (95% CI)"]
        + (["sampled acc %"] if sampled else [])
        + extra
        + ["no answer %", "predicted learnable %", "learnable %", "steps", "wall s"]
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
    return lines


def learnable_section(table: pd.DataFrame) -> list[str]:
    runs = per_run_rows(table[table["eval_set"] == table["eval_set"].iloc[0]])
    gap = runs["learnable_pct"] - runs["predicted_learnable_pct"]
    return [
        f"**Predicted vs measured learnable %** (one value per run; predicted from the probe's pass "
        f"rates as 1 − p^G − (1 − p)^G): measured − predicted = {gap.mean():+.1f} points on average "
        f"(from {gap.min():+.1f} to {gap.max():+.1f}), {len(runs)} runs",
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


def steps_section(steps: pd.DataFrame | None, settings: ReportSettings) -> list[str]:
    if steps is None:
        return []
    lines = ["**Steps to match the full-data run**"]
    if settings.full_subset is None:
        return lines + ["not computed: no subset has strategy `all` (the full-data reference)"]
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
    return lines


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
