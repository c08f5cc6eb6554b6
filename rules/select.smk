# Select: one training subset per entry of `subsets`, from the probe's pass rates (or the
# pass rates the training set ships with, `fields.pass_rate`: then nothing is probed).


rule select_subset:
    input:
        pass_rates=probe_pass_rates(),
        data=data_path(config["train_set"]),
    output:
        table=f"{EXP}/subsets/{{subset}}.parquet",
        stats=f"{EXP}/subsets/{{subset}}.json",
    log:
        f"{EXP}/logs/select/{{subset}}.log",
    params:
        spec=lambda wc: config["subsets"][wc.subset],
        seed=config["select_seed"],
    resources:
        **config["resources"]["report"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/select_subset.py"
