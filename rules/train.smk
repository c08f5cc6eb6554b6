# Train: GRPO + LoRA on each subset, for each seed.


rule train:
    input:
        subset=f"{EXP}/subsets/{{subset}}.parquet",
        model=model_input(),
    output:
        adapter=f"{EXP}/train/{{subset}}/seed{{seed}}/adapter/adapter_config.json",
        metrics=f"{EXP}/train/{{subset}}/seed{{seed}}/metrics.csv",
        info=f"{EXP}/train/{{subset}}/seed{{seed}}/train_info.json",
        # intermediate adapters (evaluate.every_steps), copied from the checkpoints
        steps=expand(step_adapter(f"{EXP}/train/{{subset}}/seed{{seed}}", "{step}"), step=eval_steps(),
                     allow_missing=True),
    log:
        f"{EXP}/logs/train/{{subset}}-seed{{seed}}.log",
    params:
        model=model_ref(),
        prompt=config["prompt"],
        train={k: v for k, v in config["train"].items() if k != "seeds"},
        export_steps=eval_steps(),
    threads: config["resources"]["train"]["cpus_per_task"]
    resources:
        **config["resources"]["train"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/train.py"
