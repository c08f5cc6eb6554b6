"""The calibrated learnable-% prediction: the prior fitted to the probe's counts, the
closed-form posterior expectation, the interval of a run's groups, and how often it holds
the share a run measures."""

import math

import numpy as np
import pandas as pd
import pytest
from conftest import train_config

from grpo_difficulty import prediction, select
from grpo_difficulty.config.sections import SubsetConfig


def beta_binomial_counts(a, b, k, n, rng):
    p = rng.beta(a, b, n)
    return p, rng.binomial(k, p)


@pytest.mark.parametrize("a, b", [(0.3, 0.7), (2.0, 5.0), (1.0, 1.0)])
def test_prior_fit_recovers_the_beta_the_counts_came_from(a, b):
    _, counts = beta_binomial_counts(a, b, 8, 4000, np.random.default_rng(0))
    prior = prediction.fit_prior(counts, 8)
    assert prior.a == pytest.approx(a, rel=0.15) and prior.b == pytest.approx(b, rel=0.15) and prior.n == 4000


def test_prior_fit_is_the_likelihood_maximum():
    _, counts = beta_binomial_counts(0.3, 0.7, 8, 200, np.random.default_rng(1))
    prior = prediction.fit_prior(counts, 8)
    best = prediction.beta_binomial_loglik(counts, 8, prior.a, prior.b)
    for da, db in [(1.02, 1), (0.98, 1), (1, 1.02), (1, 0.98), (1.02, 1.02), (0.98, 0.98)]:
        assert prediction.beta_binomial_loglik(counts, 8, prior.a * da, prior.b * db) < best


def test_prior_fit_at_the_boundary_and_bad_counts():
    zeros = prediction.fit_prior([0] * 50, 8)  # every problem 0/8: the MLE drives a to 0
    assert zeros.a == prediction.MIN_SHAPE
    assert prediction.PassRates(a=np.array([zeros.a]), b=np.array([zeros.b + 8])).expected_learnable(8)[0] < 0.01
    flat = prediction.fit_prior([4] * 50, 8)  # less spread than binomial: a + b to infinity
    assert flat.a + flat.b == pytest.approx(prediction.MAX_PRECISION) and flat.a / (flat.a + flat.b) == pytest.approx(
        0.5, abs=1e-6
    )
    with pytest.raises(ValueError, match=r"counts must lie in \[0, K\]"):
        prediction.fit_prior([9], 8)


@pytest.mark.parametrize("a, b, g", [(0.3, 8.7, 8), (8.3, 0.7, 8), (2.5, 3.5, 4), (0.5, 0.5, 16)])
def test_closed_form_equals_beta_functions_and_monte_carlo(a, b, g):
    rates = prediction.PassRates(a=np.array([a]), b=np.array([b]))
    closed = rates.expected_learnable(g)[0]

    def log_beta(x, y):
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    by_beta = 1 - math.exp(log_beta(a + g, b) - log_beta(a, b)) - math.exp(log_beta(a, b + g) - log_beta(a, b))
    assert closed == pytest.approx(by_beta, rel=1e-9)
    p = np.random.default_rng(2).beta(a, b, 400_000)
    draws = 1 - p**g - (1 - p) ** g
    assert closed == pytest.approx(draws.mean(), abs=4 * draws.std() / math.sqrt(len(p)))


def test_known_pass_rates_are_the_point_formula():
    rates = prediction.PassRates(p=np.array([0.5, 0.0, 1.0, 0.25]))
    assert rates.expected_learnable(2) == pytest.approx([0.5, 0.0, 0.0, 1 - 0.25**2 - 0.75**2])
    assert prediction.learnable_probability([0.5], 64)[0] == pytest.approx(1.0)


def test_interval_holds_the_binomial_spread_of_a_runs_groups():
    """p = 1/2 known, G = 2: each group differs with probability 1/2, so 100 groups give
    Binomial(100, 1/2)/100, whose central 95% is [0.40, 0.60]."""
    lo, hi = prediction.learnable_interval(prediction.PassRates(p=np.full(10, 0.5)), 2, 100, seed=0, runs=20000)
    assert lo == pytest.approx(0.40, abs=0.011) and hi == pytest.approx(0.60, abs=0.011)
    shares = prediction.simulated_shares(
        prediction.PassRates(a=np.array([2.0, 30.0]), b=np.array([2.0, 1.0])), 8, 6, 5000, np.random.default_rng(3)
    )
    assert set(np.round(shares * 6, 6)) <= set(range(7))  # shares of 6 groups
    # 3 passes over the 2 problems: each run holds each problem 3 times
    mean = prediction.PassRates(a=np.array([2.0, 30.0]), b=np.array([2.0, 1.0])).expected_learnable(8).mean()
    assert shares.mean() == pytest.approx(mean, abs=0.01)


def test_interval_covers_what_a_run_measures():
    """The probe's whole loop, simulated: problems' true pass rates from a Beta, K = 8
    probe samples each, the prior fitted and the hard / easy / a random subset chosen from
    the counts; the run then scores 30 groups of 8 with the true pass rates. Its measured
    share falls inside the 95% interval about 95% of the time, and the prediction is
    unbiased, also for subsets chosen by their counts (hard: all 0/8, where p = c/K says 0)."""
    rng = np.random.default_rng(4)
    inside, gaps = {"hard": [], "easy": [], "random": []}, {"hard": [], "easy": [], "random": []}
    for trial in range(150):
        p, counts = beta_binomial_counts(0.3, 0.7, 8, 200, rng)
        table = pd.DataFrame(dict(n_correct=counts, k=8, pass_rate=counts / 8, true_p=p))
        prior = prediction.prior_of(table)
        order = rng.permutation(200)
        ranked = table.iloc[order].sort_values("pass_rate", kind="stable")
        for name, subset in [("hard", ranked.head(40)), ("easy", ranked.tail(40)), ("random", table.iloc[order[:40]])]:
            rates = prediction.PassRates.of(subset, prior)
            lo, hi = prediction.learnable_interval(rates, 8, 30, seed=trial, runs=2000)
            drawn = rng.permutation(40)[:30]
            right = rng.binomial(8, subset["true_p"].to_numpy()[drawn])
            measured = ((right > 0) & (right < 8)).mean()
            inside[name].append(lo <= measured <= hi)
            gaps[name].append(measured - rates.expected_learnable(8).mean())
    for name in inside:
        assert np.mean(inside[name]) >= 0.9, name
        assert abs(np.mean(gaps[name])) < 0.03, name


def test_subset_prediction_and_run_groups():
    table = pd.DataFrame(dict(n_correct=[0, 0, 4, 8, 2, 6], k=8, pass_rate=np.array([0, 0, 4, 8, 2, 6]) / 8))
    ranked, prior = prediction.with_expected_learnable(table, 8)
    assert prior.n == 6 and ranked["expected_learnable"].between(0, 1).all()
    assert ranked["expected_learnable"].iloc[0] > 0  # a 0/8 problem is not certainly unlearnable
    out = prediction.subset_prediction(ranked.head(2), prior, 8, 30, seed=0)
    assert out["predicted_learnable_lo"] <= out["predicted_learnable_pct"] <= out["predicted_learnable_hi"]
    assert out["run_groups"] == 30 and out["pass_rate_prior"]["a"] == prior.a
    shipped = prediction.subset_prediction(table[["pass_rate"]], None, 8, 30, seed=0)
    assert shipped["pass_rate_prior"] is None
    assert shipped["predicted_learnable_pct"] == pytest.approx(
        100 * prediction.learnable_probability(table["pass_rate"], 8).mean()
    )
    stats = select.subset_stats(ranked.assign(id="x", tier=1), "s", SubsetConfig(strategy="all"), 8)
    assert stats["num_generations"] == 8
    train = train_config(dict(steps=30, prompts_per_step=2, gradient_accumulation_steps=3))
    assert prediction.run_groups(train) == 180
