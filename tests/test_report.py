import numpy as np
import pandas as pd
import pytest

from grpo_difficulty import evaluate, report


def predictions(correct, tiers=None):
    n = len(correct)
    return pd.DataFrame(dict(id=[f"p{i}" for i in range(n)], tier=tiers or [1] * n, completion=[""] * n,
                             n_tokens=[1] * n, correct=correct, reason=["correct" if c else "wrong" for c in correct]))


def test_summarize_per_tier_and_reasons():
    s = evaluate.summarize(predictions([True, False, True, True], [1, 1, 2, 2]))
    assert s["accuracy"] == 0.75 and s["per_tier"] == {1: {"accuracy": 0.5, "n": 2}, 2: {"accuracy": 1.0, "n": 2}}
    assert s["reasons"] == {"correct": 3, "wrong": 1}


def test_paired_delta_interval():
    base = predictions([False] * 50 + [True] * 50)
    run = predictions([True] * 60 + [False] * 40)  # +10 new right, 0 lost... paired diffs
    delta, lo, hi = report.paired_delta(run, base)
    diff = run["correct"].astype(float) - base["correct"].astype(float)
    half = 1.959964 * diff.std(ddof=1) / np.sqrt(100)
    assert delta == pytest.approx(0.10) and lo == pytest.approx(0.10 - half) and hi == pytest.approx(0.10 + half)


def test_paired_delta_pools_seeds_per_problem():
    base = predictions([False, False])
    runs = pd.concat([predictions([True, False]), predictions([True, True])])
    delta, _, _ = report.paired_delta(runs, base)
    assert delta == pytest.approx(0.75)


def test_summary_table_markdown_and_plots(tmp_path):
    base = {"test": predictions([True, False] * 10, [1, 2] * 10)}
    runs = [dict(eval_set="test", subset=s, strategy=s, seed=seed, predictions=predictions(c, [1, 2] * 10),
                 train_info=dict(learnable_pct=lp, steps=5, wall_seconds=3.0))
            for s, seed, c, lp in [("easy", 0, [True] * 20, 40.0), ("easy", 1, [True, True] * 10, 50.0),
                                   ("hard", 0, [False] * 20, 10.0)]]
    table = report.summary_table(runs, base)
    assert len(table) == 5  # 3 runs + 2 pooled rows
    pooled = table[(table["subset"] == "easy") & table["seed"].str.startswith("all")].iloc[0]
    assert pooled["accuracy"] == 1.0 and pooled["delta"] == pytest.approx(0.5)
    md = report.markdown(table)
    assert "| test | hard | hard | 0 | 0.0 | 50.0 | -50.0" in md
    rates = pd.DataFrame({"n_correct": [0, 0, 3, 8], "pass_rate": [0, 0, 3 / 8, 1]})
    report.plot_pass_rates(rates, 8, tmp_path / "a.png")
    per_tier = pd.concat([base["test"].assign(model="base")] + [r["predictions"].assign(model=r["subset"]) for r in runs])
    report.plot_tier_accuracy(per_tier, tmp_path / "b.png")
    report.plot_learnable_vs_gain(table, tmp_path / "c.png")
    for name in "abc":
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_unanswered_counts_empty_and_unparsable_not_wrong():
    preds = predictions([True, False, False, False])
    preds["reason"] = ["correct", "wrong", "empty", "unparsable"]
    assert report.unanswered(preds) == 0.5
