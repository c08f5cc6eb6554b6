# Select: one training subset per entry of `subsets`, from the probe's pass rates.


rule select_subset:
    input:
        pass_rates=pass_rates_path(),
        data=data_path(config["train_set"]),
    output:
        table=f"{EXP}/subsets/{{subset}}.parquet",
        stats=f"{EXP}/subsets/{{subset}}.json",
    log:
        f"{EXP}/logs/select/{{subset}}.log",
    params:
        spec=lambda wc: config["subsets"][wc.subset],
        seed=config["select_seed"],
        num_generations=config["train"]["num_generations"],  # G of the predicted learnable %
    resources:
        **config["resources"]["report"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/select_subset.py"
