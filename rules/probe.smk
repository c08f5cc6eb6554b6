# Probe: K sampled answers per training problem, in (shard, block) jobs, merged into pass rates.


wildcard_constraints:
    shard=r"\d+",
    block=r"\d+",


rule probe_block:
    input:
        data=data_path(config["train_set"]),
        model=model_input(),
    output:
        f"{PROBE_DIR}/s{{shard}}_b{{block}}.parquet",
    log:
        f"{PROBE_DIR}/logs/s{{shard}}_b{{block}}.log",
    params:
        model=model_ref(),
        settings=probe_settings(),
    threads: config["resources"]["probe"]["cpus_per_task"]
    resources:
        **config["resources"]["probe"],
    conda:
        GENERATION_ENV
    script:
        "../workflow/scripts/probe.py"


rule probe_greedy:
    input:
        data=data_path(config["train_set"]),
        model=model_input(),
    output:
        f"{PROBE_DIR}/s{{shard}}_greedy.parquet",
    log:
        f"{PROBE_DIR}/logs/s{{shard}}_greedy.log",
    params:
        model=model_ref(),
        settings=probe_settings(),
    threads: config["resources"]["probe"]["cpus_per_task"]
    resources:
        **config["resources"]["probe"],
    conda:
        GENERATION_ENV
    script:
        "../workflow/scripts/probe.py"


rule probe_merge:
    input:
        unpack(probe_blocks),
        data=data_path(config["train_set"]),
    output:
        f"{PROBE_DIR}/pass_rates_k{{k}}.parquet",
    log:
        f"{PROBE_DIR}/logs/merge_k{{k}}.log",
    resources:
        **config["resources"]["report"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/probe_merge.py"
