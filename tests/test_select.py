import numpy as np
import pandas as pd
import pytest

from grpo_difficulty import prediction, probe, select
from grpo_difficulty.config.sections import SubsetConfig, build


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    n_correct = np.array([0] * 40 + [1, 2, 3, 4, 5, 6, 7] * 5 + [8] * 25)
    lo, hi = probe.wilson_interval(n_correct, 8)
    return pd.DataFrame(
        dict(
            id=[f"p{i}" for i in range(100)],
            tier=rng.integers(1, 4, 100),
            pass_rate=n_correct / 8,
            pass_rate_lo=lo,
            pass_rate_hi=hi,
            greedy_correct=n_correct >= 5,
        )
    )


def pick(table, spec, seed=0):
    return select.select_subset(table, "s", build(SubsetConfig, spec), seed)


def test_easy_hard_medium_random(table):
    easy, hard = pick(table, {"strategy": "easy", "budget": 10}), pick(table, {"strategy": "hard", "budget": 0.1})
    assert len(easy) == len(hard) == 10
    assert (easy["pass_rate"] == 1).all() and (hard["pass_rate"] == 0).all()
    medium = pick(table, {"strategy": "medium", "budget": 20})
    ranked = np.sort(table["pass_rate"].to_numpy())
    assert sorted(medium["pass_rate"]) == sorted(ranked[40:60])
    random = pick(table, {"strategy": "random", "budget": 30})
    assert random["id"].is_unique and len(random) == 30


def test_ties_are_broken_by_seed_and_deterministic(table):
    a = pick(table, {"strategy": "hard", "budget": 10}, seed=1)
    b = pick(table, {"strategy": "hard", "budget": 10}, seed=1)
    c = pick(table, {"strategy": "hard", "budget": 10}, seed=2)
    assert a["id"].tolist() == b["id"].tolist()
    assert set(a["id"]) != set(c["id"])  # 40 problems tie at pass rate 0


def test_each_subset_and_per_seed_draw_has_its_own_stream(table):
    random = {"strategy": "random", "budget": 30}
    stream = select.selection_seed(0, "random")
    assert stream == select.selection_seed(0, "random") and stream != select.selection_seed(0, "random2")
    assert select.selection_seed(0, "random", 0) != stream  # a per-seed draw, even of seed 0
    # two subsets of the same spec under different names draw different problems
    assert set(pick(table, random, stream)["id"]) != set(pick(table, random, select.selection_seed(0, "other"))["id"])
    per_seed = [set(pick(table, random, select.selection_seed(0, "random", s))["id"]) for s in range(3)]
    assert len({frozenset(ids) for ids in per_seed}) == 3
    assert per_seed[1] == set(pick(table, random, select.selection_seed(0, "random", 1))["id"])  # reproducible
    assert select.selection_seed(1, "random") != stream  # select_seed moves every stream
    assert select.draws_at_random("random", 30) and select.draws_at_random("tier", 5)
    assert not select.draws_at_random("easy", 30) and not select.draws_at_random("band", None)


def test_band_base_wrong_right_tier_all(table):
    band = pick(table, {"strategy": "band", "lo": 0.1, "hi": 0.5})
    assert band["pass_rate"].between(0.1, 0.5).all() and len(band) == 20
    assert len(pick(table, {"strategy": "band", "lo": 0.1, "hi": 0.9, "budget": 5})) == 5
    assert not pick(table, {"strategy": "base_wrong"})["greedy_correct"].any()
    assert pick(table, {"strategy": "base_right", "budget": 3})["greedy_correct"].all()
    assert set(pick(table, {"strategy": "tier", "tiers": [1, 2]})["tier"]) <= {1, 2}
    assert len(pick(table, {"strategy": "all"})) == 100


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"strategy": "band", "lo": 0.3, "hi": 0.35}, r"subsets.s \(band\) is empty"),
        ({"strategy": "band", "lo": 0.6, "hi": 0.2}, "lo=0.6 > hi=0.2"),
        ({"strategy": "easy", "budget": 0.001}, "selects no problem"),
        ({"strategy": "easy", "budget": 500}, "exceeds the 100 probed problems"),
        ({"strategy": "base_right", "budget": 90}, "only 40 problems qualify"),
        ({"strategy": "easiest", "budget": 5}, "not in"),
        ({"strategy": "hard"}, "needs a budget"),
    ],
)
def test_errors_name_the_subset(table, spec, message):
    with pytest.raises(ValueError, match=message):
        pick(table, spec)


def test_stats(table):
    stats = select.subset_stats(pick(table, {"strategy": "all"}), "s", SubsetConfig(strategy="all"), 8)
    assert stats["n"] == 100 and stats["frac_mixed"] == pytest.approx(0.35)
    assert stats["frac_all_wrong"] == pytest.approx(0.4) and sum(stats["tiers"].values()) == 100
    assert stats["cutoffs"] == [] and stats["n_interval_over_cutoff"] is None and stats["train_seed"] is None


def test_learnable_strategy_takes_the_highest_expected_learnable(table):
    table = table.assign(n_correct=(table["pass_rate"] * 8).round().astype(int), k=8)
    ranked, _ = prediction.with_expected_learnable(table, 8)
    chosen = pick(ranked, {"strategy": "learnable", "budget": 15})
    assert len(chosen) == 15 and chosen["expected_learnable"].min() >= ranked["expected_learnable"].nlargest(15).min()
    assert set(chosen["pass_rate"] * 8) <= {2, 3, 4, 5, 6}  # mixed counts, not 0/8 or 8/8
    assert select.needs_budget("learnable")
    with pytest.raises(ValueError, match="strategy learnable needs each problem's expected_learnable"):
        pick(table, {"strategy": "learnable", "budget": 15})


def test_cutoffs_and_uncertain_choices(table):
    """easy at budget 28 takes the 25 problems at 8/8 and 3 of the 5 at 7/8, leaving the
    other 7/8 out: the cut-off is 7/8 itself, and every chosen interval contains it (at
    K=8, 8/8 is [0.68, 1]). hard at budget 45 takes the 40 at 0/8 and the 5 at 1/8: the
    cut-off lies midway to 2/8."""
    easy = pick(table, {"strategy": "easy", "budget": 28})
    cuts = select.selection_cutoffs(table, easy, SubsetConfig(strategy="easy"))
    assert cuts == [pytest.approx(7 / 8)]
    stats = select.subset_stats(easy, "s", SubsetConfig(strategy="easy"), 8, cuts)
    assert stats["n_interval_over_cutoff"] == 28
    hard = pick(table, {"strategy": "hard", "budget": 45})
    cuts = select.selection_cutoffs(table, hard, SubsetConfig(strategy="hard"))
    assert cuts == [pytest.approx((1 / 8 + 2 / 8) / 2)]
    over = ((hard["pass_rate_lo"] <= cuts[0]) & (cuts[0] <= hard["pass_rate_hi"])).sum()
    assert select.subset_stats(hard, "s", SubsetConfig(strategy="hard"), 8, cuts)["n_interval_over_cutoff"] == over > 0
    assert "of 45 chosen problems have a 95% pass-rate interval containing the cut-off 0.188" in select.cutoff_summary(
        select.subset_stats(hard, "s", SubsetConfig(strategy="hard"), 8, cuts), 8
    )
    medium = pick(table, {"strategy": "medium", "budget": 20})
    assert len(select.selection_cutoffs(table, medium, SubsetConfig(strategy="medium"))) == 2
    assert select.selection_cutoffs(table, medium, SubsetConfig(strategy="band", lo=0.0, hi=0.5)) == [0.5]
    assert select.selection_cutoffs(table, medium, SubsetConfig(strategy="random")) == []
    assert select.selection_cutoffs(table, table, SubsetConfig(strategy="easy")) == []  # nothing left out


def test_selection_warnings_name_unlearnable_and_identical_selections(table):
    """A subset predicted below the threshold, and subsets selecting the same problems
    (per training seed; a selection every seed reads is named once), are warnings."""

    def selection(name, spec, seed=0, train_seed=None):
        stream = select.selection_seed(0, name, train_seed)
        subset = select.select_subset(ranked, name, build(SubsetConfig, spec), stream)
        stats = select.subset_stats(subset, name, build(SubsetConfig, spec), 8, train_seed=train_seed)
        stats.update(prediction.subset_prediction(subset, prior, 8, 16, stream))
        return dict(subset=name, seed=seed, ids=subset["id"].tolist(), stats=stats)

    ranked, prior = prediction.with_expected_learnable(
        table.assign(n_correct=(table["pass_rate"] * 8).round().astype(int), k=8), 8
    )
    everything = [selection("full", {"strategy": "all"}, s) for s in (0, 1)]
    band = [selection("wide", {"strategy": "band", "lo": 0.0, "hi": 1.0}, s) for s in (0, 1)]
    dead = [selection("zero", {"strategy": "hard", "budget": 40}, s) for s in (0, 1)]
    drawn = [selection("draw", {"strategy": "random", "budget": 10, "per_seed": True}, s, s) for s in (0, 1)]
    assert dead[0]["stats"]["predicted_learnable_pct"] < 15 < band[0]["stats"]["predicted_learnable_pct"]
    warnings = select.selection_warnings(everything + band + dead + drawn, 15)
    assert len(warnings) == 2, warnings
    predicted = dead[0]["stats"]["predicted_learnable_pct"]
    assert warnings[0].startswith(f"subset zero: predicted learnable {predicted:.1f}% (95% interval for one run [")
    assert "is below report.min_predicted_learnable = 15%" in warnings[0]
    assert warnings[1].startswith("subsets full and wide select the same 100 problems: their runs train on the same")
    # a per-seed draw that coincides with another selection for one training seed
    twin = dict(drawn[1], subset="twin", stats=dict(drawn[1]["stats"], subset="twin"))
    assert select.selection_warnings(drawn + [twin], 0) == [
        "subsets draw and twin select the same 10 problems (drawn for training seed 1): their runs train on the "
        "same data and cannot tell the strategies apart"
    ]
    assert select.selection_warnings(drawn, 0) == []
