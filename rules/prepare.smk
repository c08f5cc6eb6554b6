# Prepare: datasets into the normalized table; the embedded GGUF model into an HF folder, a
# hub model downloaded once at its revision. The only jobs that reach the hub (every other
# job runs with it switched off): on a cluster they run where Snakemake runs, on the
# login node, since compute nodes often have no internet (docs/cluster.md).


localrules:
    prepare_data,
    prepare_model,


checkpoint prepare_data:
    # a checkpoint: probe shard counts of hub/file datasets are known once they are loaded
    input:
        lambda wc: tasks.input_files(CFG.datasets[wc.dataset]),
    output:
        PATHS.data("{dataset}", "{key}"),
    log:
        PATHS.data_log("{dataset}", "{key}"),
    conda:
        "../envs/workflow.yaml"
    resources:
        **resources("prepare"),
    params:
        # without the scorer's keys: editing a scorer re-prepares nothing
        spec=lambda wc: tasks.table_spec(CFG.datasets[wc.dataset]),
    script:
        "../workflow/scripts/prepare_data.py"


rule prepare_model:
    output:
        f"{PATHS.model_dir}/config.json",
    log:
        f"{PATHS.results}/logs/models/{PATHS.model}.log",
    conda:
        "../envs/workflow.yaml"
    resources:
        **resources("prepare"),
    params:
        # a hub model only (the embedded model's rule stays as it was: nothing reruns)
        **(dict(hub=dict(model=CFG.model, revision=CFG.model_revision)) if is_hub_model(CFG.model) else {}),
    script:
        "../workflow/scripts/prepare_model.py"


# Train/eval disjointness, checked once, before any probe, training or evaluation job, in
# seconds: a local rule (on a cluster it runs where Snakemake runs, without queueing).
localrules:
    check_disjoint,


checkpoint check_disjoint:
    # a checkpoint: the probe and training jobs wait for it without taking its file as an
    # input (after_disjoint_check in common.smk), so that their inputs stay the same in
    # every experiment (the probe cache is shared); the evaluations take it as an ancient
    # input: an edit of the training set reruns this check, not the base evaluation
    input:
        train=data_path(CFG.train_set),
        evals=[data_path(name) for name in CFG.eval_sets],
    output:
        PATHS.disjoint_check,
    log:
        PATHS.log("check_disjoint"),
    conda:
        "../envs/workflow.yaml"
    params:
        train_set=CFG.train_set,
        eval_sets=CFG.eval_sets,
    script:
        "../workflow/scripts/check_disjoint.py"
