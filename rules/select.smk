# Select: one training subset per entry of `subsets`, from the probe's pass rates (or the
# pass rates the training set ships with, `fields.pass_rate`: then nothing is probed); a
# subset with `per_seed` gets one selection per training seed, each from its own stream.


rule select_subset:
    input:
        pass_rates=probe_pass_rates(),
        data=data_path(CFG.train_set),
    output:
        table=PATHS.subset("{subset}", "parquet"),
        stats=PATHS.subset("{subset}", "json"),
    log:
        PATHS.log("select/{subset}"),
    conda:
        "../envs/workflow.yaml"
    resources:
        **resources("report"),
    params:
        spec=lambda wc: as_dict(CFG.subsets[wc.subset]),
        seed=CFG.select_seed,
        train_seed=lambda wc: None if wc.get("seed") is None else int(wc.seed),
        num_generations=CFG.train.num_generations,  # G of the predicted learnable %
        groups=run_groups(CFG.train),  # a run's groups: the predicted learnable %'s interval
    script:
        "../workflow/scripts/select_subset.py"


use rule select_subset as select_subset_per_seed with:
    output:
        table=PATHS.subset("{subset}", "parquet", "{seed}"),
        stats=PATHS.subset("{subset}", "json", "{seed}"),
    log:
        PATHS.log("select/{subset}-seed{seed}"),
