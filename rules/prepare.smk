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
