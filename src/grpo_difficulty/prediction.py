"""The learnable % a subset should show in training, predicted from the probe.

A GRPO group of G samples of a problem with pass rate p gives a gradient when it holds a
right and a wrong answer: probability 1 − p^G − (1 − p)^G. The probe measured c right
answers out of K per problem, so p is uncertain; with p = c/K every 0/K problem would be
predicted never learnable. Instead each problem's p has a Beta posterior:

- prior: Beta(a, b) fitted to the probe's own counts (empirical Bayes): the beta-binomial
  maximum-likelihood fit over every probed problem (`fit_prior`);
- posterior: Beta(a + c, b + K − c);
- expected learnable probability: E[1 − p^G − (1 − p)^G] in closed form, E[p^G] =
  B(a + c + G, b + K − c) / B(a + c, b + K − c) = ∏_{j<G} (a + c + j) / (a + b + K + j).

A subset's predicted learnable % is the mean over its problems. A run measures the share
of its own groups (steps × prompts per step of them), so its 95% interval is that of a
simulated run (`learnable_interval`): each problem's p drawn from its posterior, the run's
problems drawn as TRL's sampler does (each pass over the subset a fresh permutation) and
each group's G outcomes drawn from them. It is the prediction for the base model: training
moves p, which the probe cannot see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

# ranges the fitted prior is kept in: a count histogram piled at 0/K drives a toward 0 and
# one less spread than binomial drives a + b toward infinity (the MLE on the boundary)
MIN_SHAPE, MAX_PRECISION = 1e-3, 1e4
FIT_ITERATIONS, FIT_TOLERANCE = 100_000, 1e-10


@dataclass(frozen=True)
class BetaPrior:
    """Beta(a, b), the pass rates' prior; `n`: the problems it was fitted to."""

    a: float
    b: float
    n: int

    def describe(self) -> dict:
        return dict(
            a=self.a, b=self.b, n=self.n, method="beta-binomial maximum likelihood over the probed problems' counts"
        )


def fit_prior(n_correct, k) -> BetaPrior:
    """Beta(a, b) maximizing the beta-binomial likelihood of the counts c_i of K_i
    samples: Minka's fixed point (2000), a ← a Σ_i [ψ(a + c_i) − ψ(a)] / Σ_i [ψ(a + b +
    K_i) − ψ(a + b)] and likewise b with K_i − c_i, the digamma differences being the
    finite sums Σ_{j<c} 1/(a + j) of integer counts. Each step raises the likelihood; a
    and b are kept within MIN_SHAPE and a + b below MAX_PRECISION."""
    c = np.asarray(n_correct, int)
    k = np.broadcast_to(np.asarray(k, int), c.shape)
    if len(c) == 0 or (c < 0).any() or (c > k).any():
        raise ValueError(f"pass-rate prior: counts must lie in [0, K] for at least one problem, got {c.tolist()[:5]}")
    # how many problems have more than j right / wrong / samples: Σ_i Σ_{j<c_i} f(j) = Σ_j f(j) #{c_i > j}
    j = np.arange(k.max())
    right, wrong, total = ((x[:, None] > j).sum(0) for x in (c, k - c, k))
    a = b = 1.0
    for _ in range(FIT_ITERATIONS):
        den = (total / (a + b + j)).sum()
        new_a = max(MIN_SHAPE, a * (right / (a + j)).sum() / den)
        new_b = max(MIN_SHAPE, b * (wrong / (b + j)).sum() / den)
        if new_a + new_b > MAX_PRECISION:
            scale = MAX_PRECISION / (new_a + new_b)
            new_a, new_b = new_a * scale, new_b * scale
        done = abs(new_a - a) <= FIT_TOLERANCE * a and abs(new_b - b) <= FIT_TOLERANCE * b
        a, b = new_a, new_b
        if done:
            break
    return BetaPrior(float(a), float(b), len(c))


def beta_binomial_loglik(n_correct, k, a: float, b: float) -> float:
    """log P(counts | Beta(a, b)) of the beta-binomial model (tests compare fits by it)."""
    lg = np.vectorize(math.lgamma)
    c, k = np.asarray(n_correct, float), np.asarray(k, float)
    choose = lg(k + 1) - lg(c + 1) - lg(k - c + 1)
    return float((choose + lg(a + c) + lg(b + k - c) - lg(a + b + k) - lg(a) - lg(b) + lg(a + b)).sum())


def learnable_probability(pass_rate, group_size: int) -> np.ndarray:
    """1 − p^G − (1 − p)^G for known pass rates p."""
    p = np.asarray(pass_rate, float)
    return 1 - p**group_size - (1 - p) ** group_size


@dataclass(frozen=True)
class PassRates:
    """Each problem's pass rate: Beta(a_i, b_i) posteriors, or known values `p` (pass rates
    a dataset ships with: no counts, no uncertainty)."""

    a: np.ndarray | None = None
    b: np.ndarray | None = None
    p: np.ndarray | None = None

    @classmethod
    def of(cls, table: pd.DataFrame, prior: BetaPrior | None) -> PassRates:
        """The posteriors of a table's probe counts (n_correct of k) under `prior`; the
        table's pass_rate as known values without a prior."""
        if prior is None:
            return cls(p=table["pass_rate"].to_numpy(float))
        c, k = table["n_correct"].to_numpy(float), table["k"].to_numpy(float)
        return cls(a=prior.a + c, b=prior.b + k - c)

    def expected_learnable(self, group_size: int) -> np.ndarray:
        """Per problem, E[1 − p^G − (1 − p)^G] under its posterior (closed form)."""
        if self.p is not None:
            return learnable_probability(self.p, group_size)
        j = np.arange(group_size)[:, None]
        total = self.a + self.b + j
        right = np.exp(np.log((self.a + j) / total).sum(0))  # E[p^G]
        wrong = np.exp(np.log((self.b + j) / total).sum(0))  # E[(1 − p)^G]
        return 1 - right - wrong

    def draw(self, rng: np.random.Generator, runs: int) -> np.ndarray:
        """(runs, problems) pass rates, each row one draw from every posterior."""
        if self.p is not None:
            return np.broadcast_to(self.p, (runs, len(self.p)))
        return rng.beta(self.a, self.b, size=(runs, len(self.a)))


def prior_of(table: pd.DataFrame) -> BetaPrior | None:
    """The prior fitted to a difficulty table's probe counts; None for shipped pass rates."""
    return fit_prior(table["n_correct"], table["k"]) if "n_correct" in table else None


def with_expected_learnable(table: pd.DataFrame, group_size: int) -> tuple[pd.DataFrame, BetaPrior | None]:
    """The difficulty table with each problem's expected learnable probability at G
    (`expected_learnable`, what the `learnable` strategy ranks by), and the prior."""
    prior = prior_of(table)
    return table.assign(expected_learnable=PassRates.of(table, prior).expected_learnable(group_size)), prior


def simulated_shares(rates: PassRates, group_size: int, groups: int, runs: int, rng: np.random.Generator):
    """The learnable share of `runs` simulated runs of `groups` groups each: the problems'
    pass rates drawn from their posteriors, the run's problems in passes over the subset
    (a fresh permutation each, as TRL's sampler), each group's G answers drawn."""
    n = len(rates.p if rates.p is not None else rates.a)
    passes = -(-groups // n)
    shares = []
    chunk = max(1, 2_000_000 // (n * passes))  # bounds memory on large subsets
    for start in range(0, runs, chunk):
        size = min(chunk, runs - start)
        p = rates.draw(rng, size)
        order = np.concatenate([rng.permuted(np.tile(np.arange(n), (size, 1)), axis=1) for _ in range(passes)], 1)
        right = rng.binomial(group_size, np.take_along_axis(p, order[:, :groups], axis=1))
        shares.append(((right > 0) & (right < group_size)).mean(1))
    return np.concatenate(shares)


def learnable_interval(
    rates: PassRates, group_size: int, groups: int, seed, runs: int = 4000, level: float = 0.95
) -> tuple[float, float]:
    """Central `level` interval of a run's measured learnable share (simulated_shares):
    the lower end has at most (1 − level)/2 of the runs below it, the upper end at most
    that above it (the share takes only multiples of 1/groups)."""
    shares = simulated_shares(rates, group_size, groups, runs, np.random.default_rng(seed))
    tail = (1 - level) / 2
    lo, hi = np.quantile(shares, [tail, 1 - tail], method="inverted_cdf")
    return float(lo), float(hi)


def run_groups(train) -> int:
    """The groups a training run scores: steps (every level's) × prompts per step ×
    gradient-accumulation micro-batches (dynamic sampling's extra rounds come on top)."""
    return sum(train.level_steps()) * train.prompts_per_step * train.gradient_accumulation_steps


def subset_prediction(subset: pd.DataFrame, prior: BetaPrior | None, group_size: int, groups: int, seed) -> dict:
    """A subset's predicted learnable % (mean of its problems' expectations) with the 95%
    interval of a run of `groups` groups, and the prior it came from (None: shipped pass
    rates taken as known)."""
    rates = PassRates.of(subset, prior)
    lo, hi = learnable_interval(rates, group_size, groups, seed)
    return dict(
        predicted_learnable_pct=float(100 * rates.expected_learnable(group_size).mean()),
        predicted_learnable_lo=100 * lo,
        predicted_learnable_hi=100 * hi,
        run_groups=groups,
        pass_rate_prior=prior.describe() if prior else None,
    )
