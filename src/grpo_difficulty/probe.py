"""Probe: K sampled answers per training problem → pass rate, plus one greedy answer.

Samples are produced in blocks: (shard of problems, block of `block_size` samples).
A block's seed depends only on (probe seed, shard, block), so raising K adds blocks
and never changes the ones already written.
"""

from __future__ import annotations

import pandas as pd

from . import tasks
from .config import ProbeConfig
from .files import stable_hash

GREEDY_COLUMNS = ["id", "greedy_completion", "greedy_correct", "greedy_reason"]
PASS_RATE_COLUMNS = ["id", "tier", "k", "n_correct", "pass_rate", "greedy_correct", "mean_tokens"]


def shard_rows(rows: pd.DataFrame, shard: int, shard_size: int) -> pd.DataFrame:
    part = rows.iloc[shard * shard_size:(shard + 1) * shard_size]
    if part.empty:
        raise ValueError(f"probe shard {shard} is empty ({len(rows)} rows, shard_size {shard_size})")
    return part


def block_seed(seed: int, shard: int, block: int) -> int:
    return int(stable_hash([seed, shard, block], 8), 16)


def probe_block(generator, rows: pd.DataFrame, prompt: dict, probe: ProbeConfig,
                shard: int, block: int) -> pd.DataFrame:
    """Samples block*block_size .. (block+1)*block_size-1 for every problem in `rows`."""
    return tasks.answer_problems(
        generator, rows, prompt, n=probe.block_size, temperature=probe.temperature,
        top_p=probe.top_p, max_new_tokens=probe.max_new_tokens,
        seed=block_seed(probe.seed, shard, block), first_sample=block * probe.block_size,
        desc=f"probe shard {shard} block {block}")


def probe_greedy(generator, rows: pd.DataFrame, prompt: dict, max_new_tokens: int) -> pd.DataFrame:
    answers = tasks.answer_problems(generator, rows, prompt, n=1, temperature=0.0, top_p=1.0,
                                    max_new_tokens=max_new_tokens, seed=0, desc="probe greedy")
    return answers.rename(columns={"completion": "greedy_completion", "correct": "greedy_correct",
                                   "reason": "greedy_reason"})[GREEDY_COLUMNS]


def pass_rates(rows: pd.DataFrame, blocks: list[pd.DataFrame], greedy: list[pd.DataFrame], k: int) -> pd.DataFrame:
    """Per-problem table from the first k samples of every problem."""
    samples = pd.concat(blocks, ignore_index=True)
    samples = samples[samples["sample"] < k]
    counts = samples.groupby("id").agg(k=("sample", "nunique"), n_correct=("correct", "sum"),
                                       mean_tokens=("n_tokens", "mean"))
    table = rows[["id", "tier"]].merge(counts, on="id", how="left").merge(
        pd.concat(greedy, ignore_index=True)[["id", "greedy_correct"]], on="id", how="left")
    incomplete = table[(table["k"] != k) | table["greedy_correct"].isna()]
    if not incomplete.empty:
        raise ValueError(f"probe: {len(incomplete)} problems lack {k} samples or a greedy answer "
                         f"(first id {incomplete['id'].iloc[0]}); rerun snakemake to regenerate blocks")
    table["k"] = table["k"].astype(int)
    table["n_correct"] = table["n_correct"].astype(int)
    table["pass_rate"] = table["n_correct"] / table["k"]
    table["greedy_correct"] = table["greedy_correct"].astype(bool)
    return table[PASS_RATE_COLUMNS]
