"""Choose one training subset from the probe's pass rates, or from the pass rates the
training set ships with when nothing was probed (rules select_subset and, for a subset
drawn per training seed, select_subset_per_seed); predict its learnable % with a 95%
interval for a run of the rule's `groups` groups."""

from grpo_difficulty import prediction, probe, select
from grpo_difficulty.config.sections import SubsetConfig, build
from grpo_difficulty.files import log_to, read_table, write_json, write_table

params = snakemake.params
with log_to(snakemake.log[0]):
    probed = snakemake.input.pass_rates
    rates = read_table(probed[0], probe.PASS_RATE_COLUMNS) if probed else None
    table, prior = prediction.with_expected_learnable(
        select.difficulty_table(read_table(snakemake.input.data), rates), params.num_generations
    )
    name = snakemake.wildcards.subset
    spec = build(SubsetConfig, params.spec, f"subsets.{name}.")
    stream = select.selection_seed(params.seed, name, params.train_seed)
    subset = select.select_subset(table, name, spec, stream)
    stats = select.subset_stats(
        subset,
        name,
        spec,
        params.num_generations,
        select.selection_cutoffs(table, subset, spec),
        params.train_seed,
    )
    stats.update(prediction.subset_prediction(subset, prior, params.num_generations, params.groups, stream))
    write_table(subset, snakemake.output.table)
    write_json(stats, snakemake.output.stats)
    print(stats)
    if rates is not None:
        print(select.cutoff_summary(stats, int(rates["k"].iloc[0])))
