# Probe: K sampled answers per training problem, in (row range, block) jobs, merged into pass rates.
# A job's rows are a range of the training table, of at most probe.shard_size rows; the
# merge reuses files of any earlier shard size (probe_files in common.smk). Execution
# settings (batch size, vLLM engine sizes: execution_params; shard size: the job's rows)
# decide no output: editing them reruns nothing.


wildcard_constraints:
    start=r"\d+",
    stop=r"\d+",
    block=r"\d+",


rule probe_block:
    input:
        **probe_inputs("b{block}"),
    output:
        PATHS.probe_file("{start}", "{stop}", "b{block}"),
    log:
        PATHS.probe_log("{start}", "{stop}", "b{block}"),
    conda:
        GENERATION_ENV
    threads: CFG.resources.probe.cpus_per_task
    resources:
        **resources("probe"),
    params:
        **model_params(in_paths=True),
        settings=probe_fields(CFG),
        execution=execution_params(),
    script:
        "../workflow/scripts/probe.py"


# the same job for the greedy answers of a row range (the script tells them apart by rule name)
use rule probe_block as probe_greedy with:
    input:
        **probe_inputs("greedy"),
    output:
        PATHS.probe_file("{start}", "{stop}", "greedy"),
    log:
        PATHS.probe_log("{start}", "{stop}", "greedy"),


# seconds of table work: on a cluster it runs where Snakemake runs, not as a submission
localrules:
    probe_merge,


rule probe_merge:
    input:
        unpack(probe_blocks),
        data=data_path(CFG.train_set),
    output:
        PATHS.pass_rates("{k}"),
    log:
        f"{PATHS.probe_dir}/logs/merge_k{{k}}.log",
    conda:
        "../envs/workflow.yaml"
    resources:
        **resources("report"),
    params:
        # part of the probe key: samples of blocks written without their truncated column
        # that reached it count as cut (probe.with_truncation)
        max_new_tokens=CFG.probe.max_new_tokens,
    script:
        "../workflow/scripts/probe_merge.py"
