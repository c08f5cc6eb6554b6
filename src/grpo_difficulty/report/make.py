"""The whole report: every table, the Markdown and every plot (rule report)."""

from __future__ import annotations

import pandas as pd

from ..files import write_table, write_text
from . import plots
from .html import summary_page
from .markdown import markdown
from .settings import ReportSettings
from .statistics import linear_fit
from .tables import (
    PREDICTION,
    accuracy_curves,
    no_gradient,
    pairwise_differences,
    per_run_rows,
    steps_to_match,
    summary_table,
    tier_table,
)


def make_report(
    base: dict[str, pd.DataFrame],
    points: list[dict],
    train_info: dict[tuple, dict],
    metrics: dict[tuple, pd.DataFrame],
    pass_rates: pd.DataFrame,
    subset_stats: dict[str, dict],
    settings: ReportSettings,
    out: dict,
    selection_warnings: list[str] = (),
) -> str:
    """Write every table and plot of the report; returns the Markdown.

    base: eval set → base predictions; points: dicts eval_set, subset, strategy, seed,
    step (None = final adapter), predictions; train_info / metrics: by (subset, seed);
    subset_stats: (subset, seed) → the stats of the selection that run trained on
    (tables.PREDICTION); out: output
    paths (config.layout.REPORT_TABLES', REPORT_PAGES' and REPORT_PLOTS' keys);
    selection_warnings: rule check_selections' (the report's first lines repeat them).
    """
    n_boot = settings.bootstrap
    # the caller's dicts stay as they are; the final adapter's step is its run's length
    points = [
        dict(
            p,
            train_info=train_info[(p["subset"], p["seed"])],
            no_gradient=no_gradient(metrics[(p["subset"], p["seed"])]),
            **{key: subset_stats[(p["subset"], p["seed"])][key] for key in PREDICTION},
        )
        for p in points
    ]
    final = [p for p in points if p["step"] is None]
    points = [dict(p, step=p["train_info"]["steps"] if p["step"] is None else p["step"]) for p in points]
    table = summary_table(final, base, settings.pass_k, n_boot)
    table.insert(0, "experiment", settings.experiment)  # for comparisons across experiments
    table.insert(1, "model", settings.model)
    table.insert(2, "train_set", settings.train_set)
    table.insert(3, "difficulty", settings.difficulty)
    first_set = table[table["eval_set"] == next(iter(base))]
    first = per_run_rows(first_set)
    fit = linear_fit(first["learnable_pct"], 100 * first["delta"])
    tiers = tier_table(final, base, n_boot)
    curves = accuracy_curves(points, base, n_boot)
    steps = steps_to_match(curves, settings.full_subset)
    pairwise = pairwise_differences(final, n_boot)
    text = markdown(table, settings, fit, steps, pairwise, list(selection_warnings))
    write_table(table, out["csv"])
    write_table(tiers, out["tiers_csv"])
    write_table(curves, out["curves_csv"])
    write_table(steps, out["steps_csv"])
    write_table(pairwise, out["pairwise_csv"])
    write_text(text, out["markdown"])
    write_text(summary_page(text, f"{settings.experiment}: {settings.model} on {settings.train_set}"), out["html"])
    plots.plot_pass_rates(pass_rates, settings.k, out["pass_rates"], settings.train_set)
    plots.plot_tier_accuracy(tiers, out["tiers"])
    plots.plot_accuracy_steps(curves, steps, out["steps"])
    plots.plot_learnable_vs_gain(first_set, fit, out["learnable"])
    plots.plot_predicted_learnable(first_set, out["predicted"])
    plots.plot_training_curves(
        pd.concat([m.assign(subset=s, seed=seed) for (s, seed), m in metrics.items()]), out["training"]
    )
    return text
