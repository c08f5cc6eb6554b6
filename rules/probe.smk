# Probe: K sampled answers per training problem, in (shard, block) jobs, merged into pass rates.


wildcard_constraints:
    shard=r"\d+",
    block=r"\d+",


rule probe_block:
    input:
        data=data_path(CFG.train_set),
        model=model_input(),
    output:
        PATHS.probe_block("{shard}", "{block}"),
    log:
        f"{PATHS.probe_dir}/logs/s{{shard}}_b{{block}}.log",
    params:
        model=model_param,
        settings=probe_fields(CFG),
    threads: CFG.resources.probe.cpus_per_task
    resources:
        **resources("probe"),
    conda:
        GENERATION_ENV
    script:
        "../workflow/scripts/probe.py"


# the same job for the greedy answers of a shard (the script tells them apart by rule name)
use rule probe_block as probe_greedy with:
    output:
        PATHS.probe_greedy("{shard}"),
    log:
        f"{PATHS.probe_dir}/logs/s{{shard}}_greedy.log",


rule probe_merge:
    input:
        unpack(probe_blocks),
        data=data_path(CFG.train_set),
    output:
        PATHS.pass_rates("{k}"),
    log:
        f"{PATHS.probe_dir}/logs/merge_k{{k}}.log",
    resources:
        **resources("report"),
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/probe_merge.py"
