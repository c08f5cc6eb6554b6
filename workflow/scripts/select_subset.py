"""Choose one training subset from the probe's pass rates (rule select_subset)."""
from grpo_difficulty import probe, select
from grpo_difficulty.files import log_to, read_table, write_json, write_table

with log_to(snakemake.log[0]):
    rates = read_table(snakemake.input.pass_rates, probe.PASS_RATE_COLUMNS)
    table = read_table(snakemake.input.data).merge(rates.drop(columns="tier"), on="id")
    name = snakemake.wildcards.subset
    spec = snakemake.params.spec
    subset = select.select_subset(table, name, spec, snakemake.params.seed)
    stats = select.subset_stats(subset, name, spec, snakemake.params.num_generations,
                                select.selection_cutoffs(table, subset, spec))
    write_table(subset, snakemake.output.table)
    write_json(stats, snakemake.output.stats)
    print(stats)
    print(select.cutoff_summary(stats, int(rates["k"].iloc[0])))
