# Train: GRPO + LoRA on each subset, for each seed.


rule train:
    input:
        subset=f"{EXP}/subsets/{{subset}}.parquet",
        model=model_input(),
    output:
        adapter=f"{EXP}/train/{{subset}}/seed{{seed}}/adapter/adapter_config.json",
        metrics=f"{EXP}/train/{{subset}}/seed{{seed}}/metrics.csv",
        info=f"{EXP}/train/{{subset}}/seed{{seed}}/train_info.json",
    log:
        f"{EXP}/logs/train/{{subset}}-seed{{seed}}.log",
    params:
        model=model_ref(),
        prompt=config["prompt"],
        train={k: v for k, v in config["train"].items() if k != "seeds"},
    threads: config["resources"]["train"]["cpus_per_task"]
    resources:
        **config["resources"]["train"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/train.py"
