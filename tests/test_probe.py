"""Probe blocks on the tiny model: determinism, batch invariance, K extension by blocks,
reuse of files across shard sizes, merging."""

import numpy as np
import pandas as pd
import pytest
import torch

from grpo_difficulty import probe, tasks
from grpo_difficulty.generation.hf import HFGenerator
from grpo_difficulty.generation.sampling import sampling_processors

SAMPLING = dict(block_size=2, temperature=1.0, top_p=1.0, max_new_tokens=6, seed=3)


@pytest.fixture(scope="module")
def rows():
    return tasks.arithmetic_rows([1, 4], {"train": 6}, "train", 0)


@pytest.fixture(scope="module")
def generator(tiny_model):
    return HFGenerator(tiny_model, batch_size=16)


def test_blocks_are_deterministic_and_independent(generator, rows, fewshot_prompt):
    b0 = probe.probe_block(generator, rows, fewshot_prompt, 0, **SAMPLING)
    b1 = probe.probe_block(generator, rows, fewshot_prompt, 1, **SAMPLING)
    again = probe.probe_block(generator, rows, fewshot_prompt, 0, **SAMPLING)
    pd.testing.assert_frame_equal(b0, again)
    assert sorted(b0["sample"].unique()) == [0, 1] and sorted(b1["sample"].unique()) == [2, 3]
    assert len(b0) == 2 * len(rows)
    assert b0["completion"].tolist() != b1["completion"].tolist()  # other samples, other seeds
    assert (~b0["completion"].str.contains("\n")).all()  # stopped at the first newline


def test_samples_do_not_depend_on_batch_or_shard_layout(tiny_model, fewshot_prompt):
    """Sample j of a problem is the same with batch sizes 1, 7 and 64 (2, 6 and 60 rows
    per generate call at 2 samples per problem: other padding, other matmul shapes), in
    other shard layouts and orders, and inside a larger block."""
    rows = tasks.arithmetic_rows([1, 2, 4], {"train": 10}, "train", 0)
    by_batch = {}
    for batch_size in (1, 7, 64):
        gen = HFGenerator(tiny_model, batch_size=batch_size)
        by_batch[batch_size] = probe.probe_block(gen, rows, fewshot_prompt, 1, **SAMPLING)
    reference = by_batch[1]
    assert reference["completion"].nunique() > 10  # real samples, not one repeated answer
    for batch_size in (7, 64):
        pd.testing.assert_frame_equal(by_batch[batch_size], reference)
    gen = HFGenerator(tiny_model, batch_size=16)
    shards = [
        probe.probe_block(gen, rows.iloc[a:b], fewshot_prompt, 1, **SAMPLING) for a, b in [(0, 7), (7, 19), (19, 30)]
    ]
    pd.testing.assert_frame_equal(pd.concat(shards, ignore_index=True), reference)
    backwards = probe.probe_block(gen, rows.iloc[::-1], fewshot_prompt, 1, **SAMPLING)
    pd.testing.assert_frame_equal(
        backwards.sort_values(["id", "sample"], ignore_index=True),
        reference.sort_values(["id", "sample"], ignore_index=True),
    )
    wide = probe.probe_block(gen, rows, fewshot_prompt, 0, **{**SAMPLING, "block_size": 4})
    pd.testing.assert_frame_equal(wide[wide["sample"] >= 2].reset_index(drop=True), reference)


@pytest.mark.parametrize("top_p,expected", [(1.0, [0.5, 0.3, 0.2]), (0.6, [0.625, 0.375, 0.0])])
def test_per_row_sampling_draws_from_the_softmax(top_p, expected):
    """The processors that turn greedy decoding into sampling (Gumbel-max) draw each
    token with its softmax probability, restricted to the top-p nucleus."""
    n = 4000
    scores = torch.log(torch.tensor([[0.5, 0.3, 0.2]])).expand(n, -1).clone()
    processors = sampling_processors(1.0, top_p, list(range(n)), "cpu")
    drawn = processors(torch.zeros(n, 1, dtype=torch.long), scores).argmax(-1)
    freq = np.bincount(drawn.numpy(), minlength=3) / n
    assert freq == pytest.approx(expected, abs=0.03)  # 3.5 standard errors at n = 4000
    again = sampling_processors(1.0, top_p, list(range(n)), "cpu")(torch.zeros(n, 1, dtype=torch.long), scores)
    assert torch.equal(again.argmax(-1), drawn)  # seeded


def test_shared_prefill_matches_plain_generate(generator, rows, fewshot_prompt):
    """The prefix/suffix KV-cache path gives the same greedy answers as transformers alone."""
    prompts = [tasks.render_prompt(q, fewshot_prompt) for q in rows["question"]]
    ours = [c[0].text for c in generator.generate(prompts, 1, 0.0, 1.0, 6, 0)]
    tok = generator.tokenizer
    enc = tok(prompts, return_tensors="pt", padding=True)
    plain = generator.model.generate(**enc, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    expected = [tok.decode(r, skip_special_tokens=True) for r in plain[:, enc["input_ids"].shape[1] :]]
    assert ours == expected


def test_covering_ranges_reuse_files_of_any_shard_size():
    old = [(0, 6), (6, 12)]
    assert probe.covering_ranges(old, 12, 4) == old  # a new shard size reuses every file
    assert probe.covering_ranges([], 12, 5) == [(0, 5), (5, 10), (10, 12)]
    # an interrupted run under shard size 6, resumed under 4: the finished file stays,
    # the gap gets new ranges of at most 4 rows
    assert probe.covering_ranges([(0, 6)], 12, 4) == [(0, 6), (6, 10), (10, 12)]
    assert probe.covering_ranges([(4, 8)], 12, 3) == [(0, 3), (3, 4), (4, 8), (8, 11), (11, 12)]
    # overlapping layouts: each row once, the longer file first; out-of-table ranges ignored
    assert probe.covering_ranges([(0, 4), (0, 6), (4, 8), (6, 12), (10, 20)], 12, 6) == [(0, 6), (6, 12)]


def test_wilson_interval():
    lo, hi = probe.wilson_interval([0, 2, 4], [4, 4, 4])
    assert lo == pytest.approx([0.0, 0.150, 0.510], abs=1e-3)
    assert hi == pytest.approx([0.490, 0.850, 1.0], abs=1e-3)


def test_pass_rates_use_the_first_k_samples(generator, rows, fewshot_prompt):
    blocks = [probe.probe_block(generator, rows, fewshot_prompt, b, **SAMPLING) for b in range(2)]
    greedy = [probe.probe_greedy(generator, rows, fewshot_prompt, 6)]
    k4 = probe.pass_rates(rows, blocks, greedy, 4)
    k2 = probe.pass_rates(rows, blocks, greedy, 2)
    assert (k4["k"] == 4).all() and (k2["k"] == 2).all()
    expected = blocks[0].groupby("id")["correct"].sum()
    assert k2.set_index("id")["n_correct"].to_dict() == expected.to_dict()
    assert list(k4.columns) == probe.PASS_RATE_COLUMNS
    assert ((k4["pass_rate_lo"] <= k4["pass_rate"]) & (k4["pass_rate"] <= k4["pass_rate_hi"])).all()
    with pytest.raises(ValueError, match="lack 6 samples"):
        probe.pass_rates(rows, blocks, greedy, 6)
    with pytest.raises(ValueError, match="in two sample files"):
        probe.pass_rates(rows, [blocks[0], blocks[0].iloc[:3]], greedy, 2)


def test_samples_cut_at_the_token_limit_are_marked_truncated(generator, rows, fewshot_prompt):
    """A sample is truncated when it reached max_new_tokens before an end token or the stop
    newline: at 1 token all are, at 3 some, at 6 none, although one 6-token answer ends on
    its newline (the end token decides, not the length). The pass-rate table keeps each
    problem's share; the merge's summary names probe.max_new_tokens and warns above half."""
    cut = {
        m: probe.probe_block(generator, rows, fewshot_prompt, 0, **{**SAMPLING, "max_new_tokens": m}) for m in (1, 3)
    }
    full = probe.probe_block(generator, rows, fewshot_prompt, 0, **SAMPLING)
    assert cut[1]["truncated"].all() and (cut[1]["n_tokens"] == 1).all()
    assert 0 < cut[3]["truncated"].mean() < 1 and (cut[3].loc[cut[3]["truncated"], "n_tokens"] == 3).all()
    assert not full["truncated"].any() and (full["n_tokens"] == 6).any()
    greedy = [probe.probe_greedy(generator, rows, fewshot_prompt, 1)]
    table = probe.pass_rates(rows, [cut[1]], greedy, 2)
    assert (table["truncated"] == 1.0).all()
    line, warning = probe.truncation_summary(table, 1)
    assert "probe.max_new_tokens = 1" in line and f"{2 * len(rows)} of {2 * len(rows)} (100%)" in line
    assert warning.startswith("100% of the probe's samples") and "probe.max_new_tokens = 1" in warning
    three = probe.pass_rates(rows, [cut[3]], greedy, 2)
    assert three["truncated"].tolist() == cut[3].groupby("id", sort=False)["truncated"].mean().tolist()
    assert probe.truncation_summary(three, 3)[1] is None or cut[3]["truncated"].mean() > 0.5
    # blocks written before truncation was recorded: reaching the limit counts as cut
    old = probe.with_truncation(full.drop(columns="truncated"), 6)
    assert old["truncated"].tolist() == (full["n_tokens"] == 6).tolist()
    # the pass rates do not depend on the new column
    same = probe.pass_rates(rows, [probe.with_truncation(full.drop(columns="truncated"), 6)], greedy, 2)
    assert same.drop(columns="truncated").equals(probe.pass_rates(rows, [full], greedy, 2).drop(columns="truncated"))
