# Evaluate: greedy accuracy of the base model and of every adapter on each eval set.


rule evaluate_base:
    input:
        data=lambda wc: data_path(wc.eval_set),
        train_data=data_path(config["train_set"]),
        model=model_input(),
    output:
        predictions=f"{EXP}/eval/{{eval_set}}/base/predictions.parquet",
        summary=f"{EXP}/eval/{{eval_set}}/base/summary.json",
    log:
        f"{EXP}/logs/eval/{{eval_set}}-base.log",
    params:
        model=model_ref(),
        prompt=config["prompt"],
        backend=config["backend"],
        evaluate=config["evaluate"],
    threads: config["resources"]["evaluate"]["cpus_per_task"]
    resources:
        **config["resources"]["evaluate"],
    conda:
        GENERATION_ENV
    script:
        "../workflow/scripts/evaluate.py"


use rule evaluate_base as evaluate_adapter with:
    input:
        data=lambda wc: data_path(wc.eval_set),
        train_data=data_path(config["train_set"]),
        model=model_input(),
        adapter=f"{EXP}/train/{{subset}}/seed{{seed}}/adapter/adapter_config.json",
    output:
        predictions=f"{EXP}/eval/{{eval_set}}/{{subset}}/seed{{seed}}/predictions.parquet",
        summary=f"{EXP}/eval/{{eval_set}}/{{subset}}/seed{{seed}}/summary.json",
    log:
        f"{EXP}/logs/eval/{{eval_set}}-{{subset}}-seed{{seed}}.log",
    # On a cluster, `--group-components evaluate_adapter=N` submits N adapter evaluations
    # as one job (docs/cluster.md); without it each is still its own submission. The base
    # evaluation stays outside the group so that it need not wait for any training.
    group:
        "evaluate_adapter"
