import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from grpo_difficulty import evaluate
from grpo_difficulty.config.layout import REPORT_PAGES, REPORT_PLOTS, REPORT_TABLES
from grpo_difficulty.report import markdown, plots, statistics, tables
from grpo_difficulty.report.make import make_report
from grpo_difficulty.report.settings import ReportSettings


def predictions(correct, tiers=None, n_samples=0, n_correct=None, subjects=None):
    n = len(correct)
    return pd.DataFrame(
        dict(
            id=[f"p{i}" for i in range(n)],
            tier=tiers or [1] * n,
            subject=subjects or ["s"] * n,
            completion=[""] * n,
            n_tokens=[1] * n,
            correct=correct,
            reason=["correct" if c else "wrong" for c in correct],
            n_samples=n_samples,
            n_samples_correct=n_correct or [0] * n,
        )
    )


def test_pass_at_k_matches_the_combinatorial_formula():
    assert evaluate.pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert evaluate.pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2)
    assert evaluate.pass_at_k(8, 0, 8) == 0.0 and evaluate.pass_at_k(8, 1, 8) == 1.0
    for n, c, k in [(10, 3, 4), (64, 5, 8), (200, 17, 32)]:
        assert evaluate.pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))
    with pytest.raises(ValueError, match="pass@9 needs 1 <= k <= n"):
        evaluate.pass_at_k(8, 2, 9)


def test_summarize_per_tier_subject_and_pass_k():
    s = evaluate.summarize(predictions([True, False, True, True], [1, 1, 2, 2]))
    assert s["accuracy"] == 0.75 and s["per_tier"] == {1: {"accuracy": 0.5, "n": 2}, 2: {"accuracy": 1.0, "n": 2}}
    assert s["reasons"] == {"correct": 3, "wrong": 1} and s["per_subject"] == {"s": {"accuracy": 0.75, "n": 4}}
    sampled = predictions(
        [True, False, False, True], [1, 1, 2, 2], n_samples=4, n_correct=[4, 0, 1, 2], subjects=["a", "a", "b", "b"]
    )
    s = evaluate.summarize(sampled)
    assert s["sampled_accuracy"] == pytest.approx((1 + 0 + 0.25 + 0.5) / 4)
    assert set(s) >= {"pass@1", "pass@2", "pass@4"}  # powers of two up to n, and n
    assert s["pass@4"] == pytest.approx(3 / 4) and s["pass@1"] == pytest.approx(s["sampled_accuracy"])
    assert s["per_subject"]["b"]["pass@2"] == pytest.approx((0.5 + (1 - 1 / 6)) / 2)
    assert evaluate.default_pass_k(10) == [1, 2, 4, 8, 10] and evaluate.default_pass_k(0) == []


def test_bootstrap_is_seeded_and_resamples_seeds_and_problems():
    rng = np.random.default_rng(1)
    same = np.tile(rng.random(200) < 0.5, (3, 1)).astype(float)
    mean, lo, hi = statistics.bootstrap(same)
    assert (mean, lo, hi) == statistics.bootstrap(same)  # reproducible
    assert lo < mean < hi and hi - lo == pytest.approx(2 * 1.96 * 0.5 / np.sqrt(200), rel=0.25)
    # seeds that disagree widen the interval beyond the problem sampling alone
    spread = same.copy()
    spread[0, :] = 1.0
    spread[2, :] = 0.0
    _, slo, shi = statistics.bootstrap(spread)
    assert shi - slo > 1.5 * (hi - lo)
    assert np.isnan(statistics.bootstrap(np.ones((2, 1)))[1])


def test_change_vs_base_pools_seeds_per_problem():
    matrix, ids = statistics.correctness_matrix([predictions([True, False]), predictions([True, True])])
    baseline = statistics.correctness_matrix([predictions([False, False])], ids)[0][0]
    delta, lo, hi = statistics.bootstrap(matrix, baseline)
    assert delta == pytest.approx(0.75) and lo <= delta <= hi
    with pytest.raises(ValueError, match="evaluated on different problems"):
        statistics.correctness_matrix([predictions([False, False])], pd.Index(["p0", "p1", "p2"]))


def test_checkpoint_of_step_finds_the_curriculum_level():
    from grpo_difficulty.files import checkpoint_of_step

    assert checkpoint_of_step(4, [10]) == (0, 4)
    assert [checkpoint_of_step(s, [3, 4]) for s in (2, 3, 4, 7)] == [(0, 2), (0, 3), (1, 1), (1, 4)]
    with pytest.raises(ValueError, match="past the end of training"):
        checkpoint_of_step(8, [3, 4])


def test_linear_fit():
    fit = statistics.linear_fit([0, 1, 2, 3], [1, 3, 5, 7])
    assert fit["slope"] == pytest.approx(2) and fit["intercept"] == pytest.approx(1) and fit["r2"] == pytest.approx(1)
    assert np.isnan(statistics.linear_fit([1, 1, 1], [0, 1, 2])["r2"])


SETTINGS = ReportSettings(
    k=8,
    pass_k=[1, 4],
    bootstrap=500,
    full_subset="all",
    every_steps=5,
    train_set="train",
    experiment="exp",
    model="embedded",
    difficulty="probe: 8 samples per problem",
    per_seed=[],
    sampling="probe temperature 1.0, top_p 1.0, 8 new tokens; training temperature 1.0, top_p 1.0, 8 completion tokens",
)


def runs_for_report():
    """Three runs of two subsets on one eval set, with a checkpoint at step 5 of 10."""
    base = {"test": predictions([True, False] * 10, [1, 2] * 10, n_samples=4, n_correct=[2, 0] * 10)}
    points = []
    for subset, strategy, seed, mid, final, _learnable in [
        ("all", "all", 0, [True] * 10 + [False] * 10, [True] * 16 + [False] * 4, 40.0),
        ("all", "all", 1, [True] * 12 + [False] * 8, [True] * 18 + [False] * 2, 50.0),
        ("hard", "hard", 0, [True] * 17 + [False] * 3, [True] * 18 + [False] * 2, 10.0),
    ]:
        for step, correct in [(5, mid), (None, final)]:
            points.append(
                dict(
                    eval_set="test",
                    subset=subset,
                    strategy=strategy,
                    seed=seed,
                    step=step,
                    predictions=predictions(correct, [1, 2] * 10, n_samples=4, n_correct=[3, 1] * 10),
                )
            )
    info = {
        (p["subset"], p["seed"]): dict(learnable_pct=lp, learnable_total_pct=lp + 20, steps=10, wall_seconds=3.0)
        for p, lp in zip(points[1::2], [40.0, 50.0, 10.0], strict=True)
    }
    metrics = {
        key: pd.DataFrame(
            {
                "step": [1, 2],
                "reward": [0.1, 0.3],
                "reward_std": [0.2, 0.3],
                "frac_reward_zero_std": [0.5, 0.4],
                "grad_norm": [0.7, 0.9],
                "completions/mean_length": [5, 6],
            }
        )
        for key in info
    }
    return base, points, info, metrics


def test_summary_table_markdown_steps_to_match_and_plots(tmp_path):
    base, points, info, metrics = runs_for_report()
    rates = pd.DataFrame({"n_correct": [0, 0, 3, 8], "pass_rate": [0, 0, 3 / 8, 1], "tier": [1, 1, 2, 2]})
    files = {**REPORT_TABLES, **{name: shown.file for name, shown in {**REPORT_PAGES, **REPORT_PLOTS}.items()}}
    out = {name: tmp_path / file for name, file in files.items()}
    # each run's own selection's prediction (as with per_seed; shared ones repeat)
    subset_stats = {
        ("all", 0): {"predicted_learnable_pct": 40.0, "predicted_learnable_lo": 30.0, "predicted_learnable_hi": 48.0},
        # a run's share is a multiple of 1/groups: its interval can leave the mean out (plotted clipped)
        ("all", 1): {"predicted_learnable_pct": 50.0, "predicted_learnable_lo": 38.0, "predicted_learnable_hi": 45.0},
        ("hard", 0): {"predicted_learnable_pct": 20.0, "predicted_learnable_lo": 5.0, "predicted_learnable_hi": 35.0},
    }
    before = [(sorted(p), p["step"]) for p in points]
    text = make_report(base, points, info, metrics, rates, subset_stats, replace(SETTINGS, per_seed=["all"]), out)
    assert [(sorted(p), p["step"]) for p in points] == before  # the caller's dicts are not modified
    table = pd.read_csv(out["csv"])
    assert len(table) == 5  # 3 runs + 2 pooled rows
    pooled = table[(table["subset"] == "all") & table["seed"].str.startswith("all")].iloc[0]
    assert pooled["accuracy"] == pytest.approx(0.85) and pooled["delta"] == pytest.approx(0.35)
    assert pooled["accuracy_lo"] < 0.85 < pooled["accuracy_hi"]
    assert pooled["pass@4"] == pytest.approx((1.0 + 1.0) / 2) and pooled["base_pass@4"] == pytest.approx(0.5)
    assert "| test | hard | hard | 0 | 90.0 [" in text
    assert pooled["predicted_learnable_pct"] == 45.0 and pooled["learnable_pct"] == pytest.approx(45.0)
    assert pooled["learnable_total_pct"] == pytest.approx(65.0)  # TRL's figure, its own column
    # runs measured 40, 50 (all, predicted 40 [30, 48] and 50 [38, 45] for the seeds' own draws)
    # and 10 (hard, predicted 20 [5, 35])
    assert (
        "measured − predicted = -3.3 points on average (|measured − predicted| 3.3, from -10.0 to +0.0), "
        "measured inside the interval in 2 of 3 runs"
    ) in text
    assert "| 40.0 [30.0, 48.0] | 40.0 | 60.0 |" in text and "| 45.0 | 45.0 | 65.0 |" in text  # a run, pooled
    assert pooled["predicted_learnable_lo"] != pooled["predicted_learnable_lo"]  # NaN: the interval is a run's
    assert (
        "**Selections**: all: drawn anew for every training seed (`per_seed`), so their intervals include the "
        "selection's variance; hard: one selection read by every seed, so their intervals leave the "
        "selection's variance out" in text
    )
    assert f"R² = {statistics.linear_fit([40, 50, 10], [30, 40, 40])['r2']:.2f}, 3 points" in text
    # the full run ends at 85% [lo, hi]; hard (90% at step 10, 85% at step 5) enters it at step 5
    steps = pd.read_csv(out["steps_csv"]).set_index("subset")
    assert steps.loc["hard", "status"] == "reached" and steps.loc["hard", "step"] == 5
    assert steps.loc["hard", "fraction"] == pytest.approx(0.5) and steps.loc["all", "status"] == "full run"
    curves = pd.read_csv(out["curves_csv"])
    assert sorted(curves[curves["subset"] == "hard"]["step"]) == [0, 5, 10]
    pairwise = pd.read_csv(out["pairwise_csv"])
    assert pairwise[["subset_a", "subset_b", "seeds_a", "seeds_b"]].values.tolist() == [["all", "hard", 2, 1]]
    assert pairwise["difference"].iloc[0] == pytest.approx(0.85 - 0.90)
    assert "On test, 0 of 1 differences are resolved; not resolved: all − hard." in text
    tiers = pd.read_csv(out["tiers_csv"])
    assert set(tiers["model"]) == {"base", "all", "hard"} and set(tiers["tier"]) == {1, 2}
    for name in REPORT_PLOTS:
        assert out[name].read_bytes()[:4] == b"\x89PNG"
    page = out["html"].read_text()  # summary.md as the HTML report shows it
    assert "<th>accuracy % (95% CI)</th>" in page and "<td>hard</td>" in page
    assert "<th>a − b (95% CI)</th>" in page and "<p>On test, 0 of 1 differences are resolved" in page
    assert "<b>Selections</b>: all: drawn anew for every training seed (<code>per_seed</code>)" in page
    assert page.count("<table>") == 3  # summary, pairwise, steps-to-match


def two_curves(accuracy):
    """Accuracy curves of the full run `all` and of `easy` (steps 0 and 10), ±0.1 intervals."""
    acc = np.array(accuracy)
    return pd.DataFrame(
        dict(
            eval_set="t",
            subset=["all", "all", "easy", "easy"],
            strategy=["all", "all", "easy", "easy"],
            step=[0, 10, 0, 10],
            accuracy=acc,
            accuracy_lo=acc - 0.1,
            accuracy_hi=acc + 0.1,
        )
    )


def test_steps_to_match_not_reached_and_absent():
    curves = two_curves([0.2, 0.6, 0.2, 0.3])
    steps = tables.steps_to_match(curves, "all").set_index("subset")
    assert steps.loc["easy", "status"] == "not reached" and np.isnan(steps.loc["easy", "fraction"])
    assert tables.steps_to_match(curves, None).empty
    table = tables.summary_table(
        [
            dict(
                eval_set="t",
                subset="easy",
                strategy="easy",
                seed=0,
                predictions=predictions([True, False]),
                predicted_learnable_pct=4.0,
                predicted_learnable_lo=0.0,
                predicted_learnable_hi=10.0,
                train_info=dict(learnable_pct=5.0, learnable_total_pct=5.0, steps=10, wall_seconds=1.0),
                no_gradient=False,
            )
        ],
        {"t": predictions([False, False])},
        n_boot=200,
    )
    settings = replace(SETTINGS, full_subset=None, pass_k=[])
    text = markdown.markdown(table, settings, statistics.linear_fit([1], [1]), tables.steps_to_match(curves, None))
    assert "not computed: no subset has strategy `all`" in text and "no fit (1 points" in text
    assert text.splitlines()[0] == f"**Sampling**: {SETTINGS.sampling}"  # the report's first line


def test_unanswered_counts_empty_and_unparsable_not_wrong():
    preds = predictions([True, False, False, False])
    preds["reason"] = ["correct", "wrong", "empty", "unparsable"]
    assert statistics.unanswered(preds) == 0.5


def test_compare_experiments_keeps_pooled_rows_of_shared_eval_sets():
    def summary(experiment, eval_sets):
        return pd.DataFrame(
            [
                dict(experiment=experiment, eval_set=e, subset="hard", seed=seed)
                for e in eval_sets
                for seed in ["0", "1", "all (2)"]
            ]
        )

    table = tables.compare_experiments(
        [summary("math", ["math_numeric", "math500"]), summary("gsm8k", ["math_numeric", "gsm8k_test"])]
    )
    assert table[["experiment", "eval_set", "seed"]].values.tolist() == [
        ["gsm8k", "math_numeric", "all (2)"],
        ["math", "math_numeric", "all (2)"],
    ]
    with pytest.raises(ValueError, match=r"compare_with: experiments \['math', 'gsm8k'\] share no eval set"):
        tables.compare_experiments([summary("math", ["math500"]), summary("gsm8k", ["gsm8k_test"])])


def test_training_curves_draw_a_rolling_mean_whose_window_the_caption_states():
    from pathlib import Path

    steps = pd.Series([0.0, 1.0] * 10, index=range(1, 21))
    smooth = plots.rolling_mean(steps)
    assert smooth[1] == 0.0 and smooth[2] == 0.5 and smooth[3] == pytest.approx(1 / 3)
    assert (smooth[plots.CURVE_WINDOW :] == 0.5).all()  # a full window of alternating 0/1
    caption = (Path(__file__).resolve().parents[1] / "report" / "training_curves.rst").read_text()
    assert f"window of {plots.CURVE_WINDOW} steps" in caption


def test_paired_difference_resolves_what_unpaired_intervals_cannot():
    # 200 problems: whether a problem is solved is mostly its difficulty, shared by both
    # strategies; b solves 16 problems more than a, in every seed
    rng = np.random.default_rng(3)
    solved = np.tile(rng.random(200) < 0.5, (3, 1)).astype(float)
    a, b = solved.copy(), solved.copy()
    b[:, np.flatnonzero(solved[0] == 0)[:16]] = 1.0
    diff, lo, hi = statistics.paired_difference(a, b)
    assert diff == pytest.approx(-0.08) and lo < diff < hi < 0  # resolved
    a_hi, b_lo = statistics.bootstrap(a)[2], statistics.bootstrap(b)[1]
    assert b_lo < a_hi  # each strategy's own interval overlaps the other's
    assert statistics.paired_difference(a, b) == (diff, lo, hi)  # seeded
    assert np.isnan(statistics.paired_difference(a[:, :1], b[:, :1])[1])


def test_paired_difference_covers_the_true_difference():
    # problems of varied difficulty, seeds with their own offsets; a is 5 points better
    rng = np.random.default_rng(5)
    covered = 0
    for i in range(100):
        p = rng.uniform(0.1, 0.8, 150)
        a = rng.random((3, 150)) < p + 0.05 + rng.normal(0, 0.03, (3, 1))
        b = rng.random((3, 150)) < p + rng.normal(0, 0.03, (3, 1))
        _, lo, hi = statistics.paired_difference(a.astype(float), b.astype(float), n_boot=300, seed=i)
        covered += lo <= 0.05 <= hi
    assert covered >= 90  # a 95% interval (resampling problems and seeds errs wide)


def test_seeds_to_resolve_gives_80_percent_power():
    assert statistics.seed_variance(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])) == pytest.approx(0.25)
    assert np.isnan(statistics.seed_variance(np.ones((1, 4))))
    # (1.96 + 0.84)² · (0.05² + 0.05²) / 0.05² = 15.7
    assert statistics.seeds_to_resolve(0.05**2, 0.05**2, 0.05) == 16
    assert statistics.seeds_to_resolve(0.05**2, 0.05**2, -0.10) == 4  # the sign does not matter
    assert statistics.seeds_to_resolve(0.0, 0.0, 0.05) == 1
    assert statistics.seeds_to_resolve(0.01, 0.01, 0.0) == float("inf")
    assert np.isnan(statistics.seeds_to_resolve(float("nan"), 0.01, 0.05))
    # with that many seeds, per-seed accuracies of spread 5 points resolve a true 5-point
    # difference (95% interval of the difference of means excludes 0) in about 80% of studies
    rng = np.random.default_rng(0)
    n = 16
    a = rng.normal(0.55, 0.05, (20000, n))
    b = rng.normal(0.50, 0.05, (20000, n))
    se = np.sqrt(a.var(axis=1, ddof=1) / n + b.var(axis=1, ddof=1) / n)
    power = np.mean(a.mean(axis=1) - b.mean(axis=1) > statistics.Z_95 * se)
    assert power == pytest.approx(0.8, abs=0.03)


def final_point(subset, seed, correct, eval_set="test"):
    return dict(
        eval_set=eval_set,
        subset=subset,
        strategy=subset,
        seed=seed,
        predictions=predictions(correct),
        no_gradient=False,
    )


def test_pairwise_differences_table_and_markdown():
    # easy solves 30 problems more than hard (every seed); random differs from hard by one
    # problem in one seed; a second eval set has one subset pair only
    hard = [True] * 40 + [False] * 60
    easy = [True] * 70 + [False] * 30
    points = [final_point("easy", s, easy) for s in range(2)]
    points += [final_point("hard", s, hard) for s in range(2)]
    points += [final_point("random", 0, hard), final_point("random", 1, [True] * 41 + [False] * 59)]
    points += [final_point("easy", 0, [True] * 15 + [False] * 5, "other")]
    points += [final_point("hard", 0, [True] * 5 + [False] * 15, "other")]
    table = tables.pairwise_differences(points, n_boot=500)
    assert list(table.columns) == tables.PAIRWISE_COLUMNS
    assert table[["eval_set", "subset_a", "subset_b"]].values.tolist() == [
        ["test", "easy", "hard"],
        ["test", "easy", "random"],
        ["test", "hard", "random"],
        ["other", "easy", "hard"],
    ]
    rows = table.set_index(["eval_set", "subset_a", "subset_b"])
    easy_hard = rows.loc[("test", "easy", "hard")]
    assert easy_hard["difference"] == pytest.approx(0.30) and easy_hard["resolved"]
    assert easy_hard["difference_lo"] > 0.2 and easy_hard["seed_sd_a"] == 0.0
    hard_random = rows.loc[("test", "hard", "random")]
    assert hard_random["difference"] == pytest.approx(-0.005) and not hard_random["resolved"]
    # random's seeds differ by 1 point: s² = 0.01² / 2; n = 7.85 · s² / 0.005²
    assert hard_random["seed_sd_b"] == pytest.approx(0.01 / np.sqrt(2))
    assert hard_random["seeds_to_resolve"] == np.ceil(
        (statistics.Z_95 + statistics.Z_POWER) ** 2 * 0.01**2 / 2 / 0.005**2
    )
    assert np.isnan(rows.loc[("other", "easy", "hard"), "seed_sd_a"])  # one seed
    text = markdown.pairwise_section(table)
    assert "| test | easy | hard | +30.0 [" in text[4]
    assert any(
        line.startswith("On test, 2 of 3 differences are resolved: easy − hard +30.0 [")
        and line.endswith("; not resolved: hard − random.")
        for line in text
    )
    assert "On other, 1 of 1 differences are resolved: easy − hard +50.0 [" in "\n".join(text)
    seeds = "\n".join(markdown.seeds_section(table))
    # pooled over easy, hard (s = 0) and random (s = 0.71 points): s² = 0.01² / 6
    s = 0.01 / np.sqrt(6)
    need = [np.ceil(15.7 * s**2 / d**2) for d in markdown.DIFFERENCE_SIZES]
    assert f"- test (s = {100 * s:.1f} points, pooled over 3 subsets): {need[0]:.0f} seeds for d = 2 points" in seeds
    assert "- other: not estimated (needs ≥ 2 seeds per subset)" in seeds
    assert "n = ⌈(z₀.₉₇₅ + z₀.₈)² (s_a² + s_b²) / d²⌉" in seeds
    assert tables.pairwise_differences(points[:2], n_boot=100).empty  # one subset: no pair


def test_steps_to_match_never_counts_the_base_model():
    # the full run ends below the base model: the base (step 0) is within its interval,
    # but only a training step can match, and the report says the full run does not beat base
    curves = two_curves([0.5, 0.45, 0.5, 0.2])
    steps = tables.steps_to_match(curves, "all").set_index("subset")
    assert steps.loc["easy", "status"] == "not reached" and np.isnan(steps.loc["easy", "step"])
    assert steps.loc["all", "step"] == 10 and not steps["full_beats_base"].any()
    assert steps.loc["easy", "base_accuracy"] == 0.5
    text = "\n".join(markdown.steps_section(steps.reset_index(), SETTINGS))
    assert "the base model, step 0, never counts as a match" in text
    assert "On t the full-data run does not beat the base model: its final accuracy 45.0 [35.0, 55.0]" in text
    assert "does not lie above the base model's 50.0, so matching it shows no learning." in text


def test_runs_without_gradient_and_the_selection_warnings_lead_the_report():
    """A run whose every step had equal rewards in every group and a zero gradient is
    marked in the summary instead of its +0.0 (pooled only when every seed's is), and the
    report's first lines after the sampling line are the warnings."""
    flat = pd.DataFrame({"frac_reward_zero_std": [1.0, 1.0], "grad_norm": [0.0, 0.0]})
    assert tables.no_gradient(flat)
    assert not tables.no_gradient(flat.assign(grad_norm=[0.0, 0.1]))
    assert not tables.no_gradient(flat.assign(frac_reward_zero_std=[1.0, 0.75]))
    runs = [
        dict(
            eval_set="t",
            subset="easy",
            strategy="easy",
            seed=seed,
            predictions=predictions([True, False]),
            predicted_learnable_pct=0.0,
            predicted_learnable_lo=0.0,
            predicted_learnable_hi=0.0,
            train_info=dict(learnable_pct=0.0, learnable_total_pct=0.0, steps=2, wall_seconds=1.0),
            no_gradient=seed == 0,
        )
        for seed in (0, 1)
    ]
    table = tables.summary_table(runs, {"t": predictions([True, False])}, n_boot=200)
    assert table["no_gradient"].tolist() == [True, False, False]  # seed 0, seed 1, pooled
    warnings = ["subset easy: predicted learnable 0.0% ...", "subsets easy and hard select the same 2 problems ..."]
    text = markdown.markdown(table, replace(SETTINGS, pass_k=[]), selection_warnings=warnings)
    lines = text.splitlines()
    assert lines[2:5] == [
        f"- **Warning**: {warnings[0]}",
        f"- **Warning**: {warnings[1]}",
        f"- **Warning**: {markdown.NO_GRADIENT} at every training step of easy seed 0 (loss 0, gradient norm 0): "
        "each such adapter is the base model, and the summary says so instead of a change",
    ]
    assert "| t | easy | easy | 0 | 50.0 [" in text and f"| 50.0 | {markdown.NO_GRADIENT} |" in text
    assert "| t | easy | easy | 1 | 50.0 [0.0, 100.0] | 50.0 | +0.0 [+0.0, +0.0] |" in text


def test_the_base_check_gets_its_columns_its_line_and_its_points(tmp_path):
    """Runs with train.base_check (learnable_base_pct) beside one without: the summary shows
    the base check and the drift, the learnable section sets the prediction against both."""
    base, points, info, _ = runs_for_report()
    predicted = {"all": (40.0, 30.0, 48.0), "hard": (20.0, 5.0, 35.0)}
    checked = {("all", 0): 38.0, ("all", 1): 52.0}  # hard 0: a run without the base check
    runs = [
        dict(
            p,
            train_info=dict(info[(p["subset"], p["seed"])], learnable_base_pct=checked.get((p["subset"], p["seed"]))),
            no_gradient=False,
            **dict(zip(tables.PREDICTION, predicted[p["subset"]], strict=True)),
        )
        for p in points
        if p["step"] is None
    ]
    table = tables.summary_table(runs, base, n_boot=200)
    pooled = table[table["seed"] == "all (2)"].iloc[0]
    assert pooled["learnable_base_pct"] == 45.0 and pooled["drift"] == 0.0  # (40 − 38 + 50 − 52) / 2
    assert table[table["subset"] == "hard"]["learnable_base_pct"].isna().all()
    summary = "\n".join(markdown.summary_section(table, []))
    assert "| learnable % | learnable % (base check) | drift | learnable % (total reward) |" in summary
    assert "| 40.0 | 38.0 | +2.0 | 60.0 |" in summary and "| 10.0 | n/a | n/a | 30.0 |" in summary
    text = "\n".join(markdown.learnable_section(table))
    # training: 40, 50, 10 against 40, 40, 20; base check: 38, 52 against 40, 40 [30, 48]
    assert "measured inside the interval in 2 of 3 runs" in text
    assert (
        "base check − predicted = +5.0 points on average (|base check − predicted| 7.0, from -2.0 to +12.0), "
        "base check inside the interval in 1 of 2 runs"
    ) in text
    assert "**Drift** (training's learnable % − the base check's" in text and "+0.0 points on average" in text
    assert "from -2.0 to +2.0" in text
    plots.plot_predicted_learnable(table, tmp_path / "predicted.png")
    assert (tmp_path / "predicted.png").read_bytes()[:4] == b"\x89PNG"
    without = tables.summary_table(runs[2:], base, n_boot=200)  # no run with a base check
    assert "base check" not in "\n".join(markdown.summary_section(without, []) + markdown.learnable_section(without))
