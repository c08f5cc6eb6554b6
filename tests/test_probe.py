"""Probe blocks on the tiny model: determinism, K extension by blocks, merging."""

import pandas as pd
import pytest

from grpo_difficulty import probe, tasks
from grpo_difficulty.config import ProbeConfig
from grpo_difficulty.generation import HFGenerator

SAMPLING = ProbeConfig(k=4, block_size=2, temperature=1.0, top_p=1.0, max_new_tokens=6, seed=3)


@pytest.fixture(scope="module")
def rows():
    return tasks.arithmetic_rows([1, 4], {"train": 6}, "train", 0)


@pytest.fixture(scope="module")
def generator(tiny_model):
    return HFGenerator(tiny_model, batch_size=16)


def test_blocks_are_deterministic_and_independent(generator, rows, fewshot_prompt):
    b0 = probe.probe_block(generator, rows, fewshot_prompt, SAMPLING, shard=0, block=0)
    b1 = probe.probe_block(generator, rows, fewshot_prompt, SAMPLING, shard=0, block=1)
    again = probe.probe_block(generator, rows, fewshot_prompt, SAMPLING, shard=0, block=0)
    pd.testing.assert_frame_equal(b0, again)
    assert sorted(b0["sample"].unique()) == [0, 1] and sorted(b1["sample"].unique()) == [2, 3]
    assert len(b0) == 2 * len(rows)
    assert b0["completion"].tolist() != b1["completion"].tolist()  # different seeds per block
    assert (~b0["completion"].str.contains("\n")).all()  # stopped at the first newline


def test_shared_prefill_matches_plain_generate(generator, rows, fewshot_prompt):
    """The prefix/suffix KV-cache path gives the same greedy answers as transformers alone."""
    prompts = [tasks.render_prompt(q, fewshot_prompt) for q in rows["question"]]
    ours = [c[0].text for c in generator.generate(prompts, 1, 0.0, 1.0, 6, 0)]
    tok = generator.tokenizer
    enc = tok(prompts, return_tensors="pt", padding=True)
    plain = generator.model.generate(**enc, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    expected = [tok.decode(r, skip_special_tokens=True) for r in plain[:, enc["input_ids"].shape[1]:]]
    assert ours == expected


def test_pass_rates_use_the_first_k_samples(generator, rows, fewshot_prompt):
    blocks = [probe.probe_block(generator, rows, fewshot_prompt, SAMPLING, 0, b) for b in range(2)]
    greedy = [probe.probe_greedy(generator, rows, fewshot_prompt, 6)]
    k4 = probe.pass_rates(rows, blocks, greedy, 4)
    k2 = probe.pass_rates(rows, blocks, greedy, 2)
    assert (k4["k"] == 4).all() and (k2["k"] == 2).all()
    expected = blocks[0].groupby("id")["correct"].sum()
    assert k2.set_index("id")["n_correct"].to_dict() == expected.to_dict()
    assert list(k4.columns) == probe.PASS_RATE_COLUMNS
    with pytest.raises(ValueError, match="lack 6 samples"):
        probe.pass_rates(rows, blocks, greedy, 6)
