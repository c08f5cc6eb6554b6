# Prepare: datasets into the normalized table; the embedded GGUF model into an HF folder.


checkpoint prepare_data:
    # a checkpoint: probe shard counts of hub/file datasets are known once they are loaded
    input:
        lambda wc: tasks.input_files(config["datasets"][wc.dataset]),
    output:
        f"{RESULTS}/data/{{dataset}}/{{key}}.parquet",
    log:
        f"{RESULTS}/logs/data/{{dataset}}-{{key}}.log",
    params:
        spec=lambda wc: config["datasets"][wc.dataset],
    resources:
        **config["resources"]["prepare"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/prepare_data.py"


rule prepare_model:
    output:
        f"{RESULTS}/models/{MODEL_KEY}/config.json",
    log:
        f"{RESULTS}/logs/models/{MODEL_KEY}.log",
    resources:
        **config["resources"]["prepare"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/prepare_model.py"
