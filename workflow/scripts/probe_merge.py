"""Merge probe blocks into per-problem pass rates (rule probe_merge)."""

from grpo_difficulty import probe
from grpo_difficulty.files import log_to, read_table, write_table

with log_to(snakemake.log[0]):
    table = probe.pass_rates(
        read_table(snakemake.input.data),
        [read_table(p, ["id", "sample", "correct", "n_tokens"]) for p in snakemake.input.samples],
        [read_table(p, probe.GREEDY_COLUMNS) for p in snakemake.input.greedy],
        int(snakemake.wildcards.k),
    )
    write_table(table, snakemake.output[0])
    print(table["n_correct"].value_counts().sort_index().to_string())
