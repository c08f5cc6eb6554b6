import numpy as np
import pandas as pd
import pytest

from grpo_difficulty import select
from grpo_difficulty.config import SubsetConfig, build


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    n_correct = np.array([0] * 40 + [1, 2, 3, 4, 5, 6, 7] * 5 + [8] * 25)
    return pd.DataFrame(dict(id=[f"p{i}" for i in range(100)], tier=rng.integers(1, 4, 100),
                             pass_rate=n_correct / 8, greedy_correct=n_correct >= 5))


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


def test_band_base_wrong_right_tier_all(table):
    band = pick(table, {"strategy": "band", "lo": 0.1, "hi": 0.5})
    assert band["pass_rate"].between(0.1, 0.5).all() and len(band) == 20
    assert len(pick(table, {"strategy": "band", "lo": 0.1, "hi": 0.9, "budget": 5})) == 5
    assert not pick(table, {"strategy": "base_wrong"})["greedy_correct"].any()
    assert pick(table, {"strategy": "base_right", "budget": 3})["greedy_correct"].all()
    assert set(pick(table, {"strategy": "tier", "tiers": [1, 2]})["tier"]) <= {1, 2}
    assert len(pick(table, {"strategy": "all"})) == 100


@pytest.mark.parametrize("spec, message", [
    ({"strategy": "band", "lo": 0.3, "hi": 0.35}, r"subsets.s \(band\) is empty"),
    ({"strategy": "band", "lo": 0.6, "hi": 0.2}, "lo=0.6 > hi=0.2"),
    ({"strategy": "easy", "budget": 0.001}, "selects no problem"),
    ({"strategy": "easy", "budget": 500}, "exceeds the 100 probed problems"),
    ({"strategy": "base_right", "budget": 90}, "only 40 problems qualify"),
    ({"strategy": "easiest", "budget": 5}, "not in"),
    ({"strategy": "hard"}, "needs a budget"),
])
def test_errors_name_the_subset(table, spec, message):
    with pytest.raises(ValueError, match=message):
        pick(table, spec)


def test_stats(table):
    stats = select.subset_stats(pick(table, {"strategy": "all"}), "s", SubsetConfig(strategy="all"))
    assert stats["n"] == 100 and stats["frac_mixed"] == pytest.approx(0.35)
    assert stats["frac_all_wrong"] == pytest.approx(0.4) and sum(stats["tiers"].values()) == 100
