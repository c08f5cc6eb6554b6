"""Merge probe blocks into per-problem pass rates (rule probe_merge); a probe whose samples
mostly hit the token limit warns on the console."""

from grpo_difficulty import probe
from grpo_difficulty.files import log_to, read_table, write_table

with log_to(snakemake.log[0]) as log:
    k, max_new_tokens = int(snakemake.wildcards.k), snakemake.params.max_new_tokens
    blocks = [
        probe.with_truncation(read_table(p, ["id", "sample", "correct", "n_tokens", "reason"]), max_new_tokens)
        for p in snakemake.input.samples
    ]
    table = probe.pass_rates(
        read_table(snakemake.input.data),
        blocks,
        [read_table(p, probe.GREEDY_COLUMNS) for p in snakemake.input.greedy],
        k,
    )
    write_table(table, snakemake.output[0])
    print(table["n_correct"].value_counts().sort_index().to_string())
    print(f"samples scored: {probe.sample_reasons(blocks, k)}")
    truncation, warning = probe.truncation_summary(table, max_new_tokens)
    print(truncation)
    if warning:
        log.warn(warning)
