"""Probe: K sampled answers per training problem → pass rate, plus one greedy answer.

Sample j of a problem is drawn with seed `request_seed(probe seed, prompt) + j`
(`generation.sampling`), so it is the same whichever job, batch or shard generates it.
Samples are stored in files of (a row range of the training table, a block of
`block_size` samples): raising K adds blocks and never changes the ones written, and
the merge reads samples by problem id, so the files a run wrote under one shard size
serve a run under another (`covering_ranges`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import answering
from .config.sections import PromptConfig

GREEDY_COLUMNS = ["id", "greedy_completion", "greedy_correct", "greedy_reason"]
PASS_RATE_COLUMNS = [
    "id",
    "tier",
    "k",
    "n_correct",
    "pass_rate",
    "pass_rate_lo",
    "pass_rate_hi",
    "greedy_correct",
    "mean_tokens",
    "truncated",
]
INTERVAL = "95% Wilson score interval"  # of pass_rate: pass_rate_lo, pass_rate_hi (wilson_interval)
TRUNCATION_WARNING = 0.5  # a probe with a larger share of samples cut at the token limit warns


def row_range(rows: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    """Rows start .. stop - 1 of the training table: the problems of one probe job."""
    if not 0 <= start < stop <= len(rows):
        raise ValueError(f"probe rows {start}-{stop} are not a range of the {len(rows)}-row training table")
    return rows.iloc[start:stop]


def covering_ranges(existing: list[tuple[int, int]], n_rows: int, shard_size: int) -> list[tuple[int, int]]:
    """Row ranges [start, stop) that together hold rows 0 .. n_rows - 1 once each: the
    ranges of existing files (written under any shard size) where they continue the
    cover, the longest first; new ranges of at most shard_size rows for the gaps."""
    ends = {}
    for start, stop in existing:
        if 0 <= start < stop <= n_rows:
            ends[start] = max(stop, ends.get(start, stop))
    ranges, pos = [], 0
    while pos < n_rows:
        if pos in ends:
            stop = ends[pos]
        else:
            stop = min([pos + shard_size, n_rows] + [s for s in ends if s > pos])
        ranges.append((pos, stop))
        pos = stop
    return ranges


def probe_block(
    generator,
    rows: pd.DataFrame,
    prompt: PromptConfig,
    block: int,
    *,
    block_size: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int,
    desc: str = "probe",
    scorer=None,
) -> pd.DataFrame:
    """Samples block*block_size .. (block+1)*block_size-1 for every problem in `rows`; the
    keyword settings are the probe's sampling settings (those of config.keys.probe_fields);
    `scorer`: the training set's plugin scorer, if it has one."""
    return answering.answer_problems(
        generator,
        rows,
        prompt,
        n=block_size,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        first_sample=block * block_size,
        desc=f"{desc} block {block}",
        scorer=scorer,
    )


def probe_greedy(
    generator, rows: pd.DataFrame, prompt: PromptConfig, max_new_tokens: int, desc: str = "probe", scorer=None
) -> pd.DataFrame:
    answers = answering.answer_greedy(generator, rows, prompt, max_new_tokens, desc, scorer)
    return answers.rename(
        columns={"completion": "greedy_completion", "correct": "greedy_correct", "reason": "greedy_reason"}
    )[GREEDY_COLUMNS]


def sample_reasons(blocks: list[pd.DataFrame], k: int) -> str:
    """How the first k samples of every problem scored (reasons counted, timeouts among them)."""
    samples = pd.concat(blocks, ignore_index=True)
    return answering.reason_counts(samples.loc[samples["sample"] < k, "reason"])


def with_truncation(block: pd.DataFrame, max_new_tokens: int) -> pd.DataFrame:
    """A sample block with its `truncated` column. Blocks written before the generators
    recorded truncation lack it: there a sample that reached max_new_tokens counts as cut
    (one whose end token fell exactly on the limit too, the only case this overcounts)."""
    if "truncated" in block:
        return block
    return block.assign(truncated=block["n_tokens"] >= max_new_tokens)


def truncation_summary(table: pd.DataFrame, max_new_tokens: int) -> tuple[str, str | None]:
    """(the probe log's line on samples cut at the token limit, a warning when more than
    TRUNCATION_WARNING of them were) from the pass-rate table."""
    cut, total = float((table["truncated"] * table["k"]).sum()), int(table["k"].sum())
    share = cut / total if total else 0.0
    line = (
        f"samples cut at probe.max_new_tokens = {max_new_tokens} (no end token): {round(cut)} of {total} "
        f"({share:.0%}); {int((table['truncated'] > 0.5).sum())} of {len(table)} problems mostly cut"
    )
    if share <= TRUNCATION_WARNING:
        return line, None
    return line, (
        f"{share:.0%} of the probe's samples ({round(cut)} of {total}) reached probe.max_new_tokens = "
        f"{max_new_tokens} before an end token: the pass rates score cut-off answers; raise "
        "probe.max_new_tokens (and train.max_completion_length with it)"
    )


def wilson_interval(successes, n, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval of a binomial proportion (successes out of n): unlike
    p ± z·se it stays inside [0, 1] and is not empty at 0 or n successes."""
    successes, n = np.asarray(successes, float), np.asarray(n, float)
    p = successes / n
    center = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return np.clip(center - half, 0, 1), np.clip(center + half, 0, 1)


def pass_rates(rows: pd.DataFrame, blocks: list[pd.DataFrame], greedy: list[pd.DataFrame], k: int) -> pd.DataFrame:
    """Per-problem table from the first k samples of every problem, with the pass rate's
    95% Wilson interval and the share of its samples cut at the token limit (`truncated`;
    blocks with that column, `with_truncation`)."""
    samples = pd.concat(blocks, ignore_index=True)
    samples = samples[samples["sample"] < k]
    twice = samples[samples.duplicated(["id", "sample"])]
    if not twice.empty:
        raise ValueError(
            f"probe: sample {twice['sample'].iloc[0]} of problem {twice['id'].iloc[0]} is in two "
            "sample files; the merge's inputs must hold each problem once per block"
        )
    counts = samples.groupby("id").agg(
        k=("sample", "nunique"),
        n_correct=("correct", "sum"),
        mean_tokens=("n_tokens", "mean"),
        truncated=("truncated", "mean"),
    )
    table = (
        rows[["id", "tier"]]
        .merge(counts, on="id", how="left")
        .merge(pd.concat(greedy, ignore_index=True)[["id", "greedy_correct"]], on="id", how="left")
    )
    incomplete = table[(table["k"] != k) | table["greedy_correct"].isna()]
    if not incomplete.empty:
        raise ValueError(
            f"probe: {len(incomplete)} problems lack {k} samples or a greedy answer "
            f"(first id {incomplete['id'].iloc[0]}); rerun snakemake to regenerate blocks"
        )
    table["k"] = table["k"].astype(int)
    table["n_correct"] = table["n_correct"].astype(int)
    table["pass_rate"] = table["n_correct"] / table["k"]
    table["pass_rate_lo"], table["pass_rate_hi"] = wilson_interval(table["n_correct"], table["k"])
    table["greedy_correct"] = table["greedy_correct"].astype(bool)
    return table[PASS_RATE_COLUMNS]
