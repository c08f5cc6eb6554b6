"""Choose one training subset from the probe's pass rates, or from the pass rates the
training set ships with when nothing was probed (rules select_subset and, for a subset
drawn per training seed, select_subset_per_seed)."""

from grpo_difficulty import probe, select
from grpo_difficulty.config.sections import SubsetConfig, build
from grpo_difficulty.files import log_to, read_table, write_json, write_table

params = snakemake.params
with log_to(snakemake.log[0]):
    probed = snakemake.input.pass_rates
    rates = read_table(probed[0], probe.PASS_RATE_COLUMNS) if probed else None
    table = select.difficulty_table(read_table(snakemake.input.data), rates)
    name = snakemake.wildcards.subset
    spec = build(SubsetConfig, params.spec, f"subsets.{name}.")
    subset = select.select_subset(table, name, spec, select.selection_seed(params.seed, name, params.train_seed))
    stats = select.subset_stats(
        subset,
        name,
        spec,
        params.num_generations,
        select.selection_cutoffs(table, subset, spec),
        params.train_seed,
    )
    write_table(subset, snakemake.output.table)
    write_json(stats, snakemake.output.stats)
    print(stats)
    if rates is not None:
        print(select.cutoff_summary(stats, int(rates["k"].iloc[0])))
