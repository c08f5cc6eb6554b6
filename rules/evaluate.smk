# Evaluate: the base model, every adapter and (with evaluate.every_steps) every
# intermediate checkpoint's adapter on each eval set: greedy accuracy, and sampled
# accuracy / pass@k when evaluate.samples > 0.


wildcard_constraints:
    eval_set=r"[^/]+",
    subset=r"[^/]+",
    seed=r"\d+",
    step=r"\d+",


rule evaluate_base:
    input:
        data=lambda wc: data_path(wc.eval_set),
        train_data=data_path(config["train_set"]),
        model=model_input(),
    output:
        predictions=f"{EXP}/eval/{{eval_set}}/base/predictions.parquet",
        samples=f"{EXP}/eval/{{eval_set}}/base/samples.parquet",
        summary=f"{EXP}/eval/{{eval_set}}/base/summary.json",
    log:
        f"{EXP}/logs/eval/{{eval_set}}-base.log",
    params:
        model=model_ref(),
        prompt=config["prompt"],
        # name and dtype only: the script takes batch size and vLLM engine sizes from the
        # config, so editing those reruns no evaluation
        backend=backend_settings(),
        evaluate=eval_settings(),
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
        samples=f"{EXP}/eval/{{eval_set}}/{{subset}}/seed{{seed}}/samples.parquet",
        summary=f"{EXP}/eval/{{eval_set}}/{{subset}}/seed{{seed}}/summary.json",
    log:
        f"{EXP}/logs/eval/{{eval_set}}-{{subset}}-seed{{seed}}.log",
    # On a cluster, `--group-components evaluate_adapter=N` submits N adapter evaluations
    # as one job (docs/cluster.md); without it each is still its own submission. The base
    # evaluation stays outside the group so that it need not wait for any training.
    group:
        "evaluate_adapter"


use rule evaluate_base as evaluate_step with:
    input:
        data=lambda wc: data_path(wc.eval_set),
        train_data=data_path(config["train_set"]),
        model=model_input(),
        adapter=f"{EXP}/train/{{subset}}/seed{{seed}}/steps/{{step}}/adapter/adapter_config.json",
    output:
        predictions=f"{EXP}/eval/{{eval_set}}/{{subset}}/seed{{seed}}/step{{step}}/predictions.parquet",
        samples=f"{EXP}/eval/{{eval_set}}/{{subset}}/seed{{seed}}/step{{step}}/samples.parquet",
        summary=f"{EXP}/eval/{{eval_set}}/{{subset}}/seed{{seed}}/step{{step}}/summary.json",
    log:
        f"{EXP}/logs/eval/{{eval_set}}-{{subset}}-seed{{seed}}-step{{step}}.log",
    # the same group as the final adapters: many small jobs per run, one submission per N
    group:
        "evaluate_adapter"
