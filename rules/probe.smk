# Probe: K sampled answers per training problem, in (row range, block) jobs, merged into pass rates.
# A job's rows are a range of the training table, of at most probe.shard_size rows; the
# merge reuses files of any earlier shard size (probe_files in common.smk). Execution
# settings (batch size, shard size, vLLM engine sizes) are not params: editing them reruns nothing.


wildcard_constraints:
    start=r"\d+",
    stop=r"\d+",
    block=r"\d+",


rule probe_block:
    input:
        data=data_path(config["train_set"]),
        model=model_input(),
    output:
        f"{PROBE_DIR}/rows{{start}}-{{stop}}_b{{block}}.parquet",
    log:
        f"{PROBE_DIR}/logs/rows{{start}}-{{stop}}_b{{block}}.log",
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
        f"{PROBE_DIR}/rows{{start}}-{{stop}}_greedy.parquet",
    log:
        f"{PROBE_DIR}/logs/rows{{start}}-{{stop}}_greedy.log",
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
