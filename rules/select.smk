# Select: one training subset per entry of `subsets`, from the probe's pass rates (or the
# pass rates the training set ships with, `fields.pass_rate`: then nothing is probed); a
# subset with `per_seed` gets one selection per training seed, each from its own stream.
# Seconds each: on a cluster they run where Snakemake runs, not as submissions.


localrules:
    select_subset,
    select_subset_per_seed,
    check_selections,
    export_difficulty,


rule select_subset:
    input:
        pass_rates=probe_pass_rates(),
        data=data_path(CFG.train_set),
    output:
        table=PATHS.subset("{subset}", "parquet"),
        stats=PATHS.subset("{subset}", "json"),
    log:
        PATHS.log("select/{subset}"),
    conda:
        "../envs/workflow.yaml"
    resources:
        **resources("report"),
    params:
        spec=lambda wc: as_dict(CFG.subsets[wc.subset]),
        seed=CFG.select_seed,
        train_seed=lambda wc: None if wc.get("seed") is None else int(wc.seed),
        num_generations=CFG.train.num_generations,  # G of the predicted learnable %
        groups=run_groups(CFG.train),  # a run's groups: the predicted learnable %'s interval
    script:
        "../workflow/scripts/select_subset.py"


use rule select_subset as select_subset_per_seed with:
    output:
        table=PATHS.subset("{subset}", "parquet", "{seed}"),
        stats=PATHS.subset("{subset}", "json", "{seed}"),
    log:
        PATHS.log("select/{subset}-seed{seed}"),


# The selections' warnings, on the console at select time and in the report's first lines:
# a subset predicted below report.min_predicted_learnable, subsets selecting the same problems.
rule check_selections:
    input:
        tables=[selection(s, seed, "parquet") for s, seed in CFG.runs()],
        stats=[selection(s, seed, "json") for s, seed in CFG.runs()],
    output:
        PATHS.selection_checks,
    log:
        PATHS.log("check_selections"),
    conda:
        "../envs/workflow.yaml"
    resources:
        **resources("report"),
    params:
        runs=[dict(subset=s, seed=seed) for s, seed in CFG.runs()],
        min_predicted_learnable=CFG.report.min_predicted_learnable,
    script:
        "../workflow/scripts/check_selections.py"


# Export: the training set with the probe's columns, as a `datasets` folder, a parquet and
# a dataset card (results/<name>/export/); pushed to the hub by push_export when
# export.push_to_hub names a repository.
rule export_difficulty:
    input:
        pass_rates=PATHS.pass_rates(CFG.probe.k),
        data=data_path(CFG.train_set),
        model=model_input(),  # the card names the commit a prepared hub model's folder holds
    output:
        parquet=PATHS.export("parquet"),
        dataset=directory(PATHS.export("dataset")),
        card=PATHS.export("card"),
    log:
        PATHS.log("export"),
    conda:
        "../envs/workflow.yaml"
    resources:
        **resources("report"),
    params:
        # rebuilt as export.ExportInfo by the script (plain values: Snakemake tracks them)
        info=dict(
            experiment=CFG.name,
            train_set=CFG.train_set,
            data_key=PATHS.train_set_key,
            data_spec=CFG.datasets[CFG.train_set],
            model=CFG.model,
            probe=dict(k=CFG.probe.k, key=PATHS.probe_key, **probe_fields(CFG)),
            push_to_hub=CFG.export.push_to_hub,
        ),
        model_revision=CFG.model_revision,
    script:
        "../workflow/scripts/export.py"


# The one job that needs the network after the model and data are prepared: on a cluster
# it runs where Snakemake runs (compute nodes often cannot reach the hub).
localrules:
    push_export,


rule push_export:
    input:
        dataset=PATHS.export("dataset"),
        card=PATHS.export("card"),
    output:
        PATHS.export("pushed"),
    log:
        PATHS.log("push_export"),
    conda:
        "../envs/workflow.yaml"
    params:
        repo_id=CFG.export.push_to_hub,
        private=CFG.export.private,
    script:
        "../workflow/scripts/push_export.py"
