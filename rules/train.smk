# Train: GRPO + LoRA on each subset, for each seed.


rule train_adapter:
    input:
        subset=lambda wc: selection(wc.subset, wc.seed, "parquet"),
        model=model_input(),
        # a new run waits for the disjointness check (no input: a finished run stays finished)
        checked=after_disjoint_check(RUN.adapter),
    output:
        adapter=RUN.adapter,
        metrics=RUN.metrics,
        info=RUN.info,
        # intermediate adapters (evaluate.every_steps), copied from the checkpoints
        steps=[RUN.step_adapter(step) for step in CFG.eval_steps()],
    log:
        PATHS.log("train/{subset}-seed{seed}"),
    conda:
        TRAIN_ENV
    threads: CFG.resources.train.cpus_per_task
    resources:
        **resources("train"),
    params:
        **model_params(),
        # the training set's plugin scorer (only when it has one)
        **SCORERS[CFG.train_set],
        prompt=as_dict(CFG.prompt),
        train=train_fields(CFG),
        # save_steps, shared_prompt and the vLLM engine's sizes: editing them reruns nothing
        execution=execution_params(),
        export_steps=CFG.eval_steps(),
        # data-parallel processes (train.processes, or one per training GPU): the adapter
        # depends on how the batch is split and seeded
        processes=training_processes(CFG.train, CFG.resources.train),
        # train.report_to: an execution setting, not compared (a tracker edit reruns nothing)
        tracking=tracking,
    script:
        "../workflow/scripts/train.py"
