# Select: one training subset per entry of `subsets`, from the probe's pass rates (or the
# pass rates the training set ships with, `fields.pass_rate`: then nothing is probed).


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
        num_generations=CFG.train.num_generations,  # G of the predicted learnable %
    script:
        "../workflow/scripts/select_subset.py"
