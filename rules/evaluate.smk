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
        **eval_inputs(),
    output:
        **PATHS.evaluation_outputs("base"),
    log:
        PATHS.log("eval/{eval_set}-base"),
    conda:
        GENERATION_ENV
    threads: CFG.resources.evaluate.cpus_per_task
    resources:
        **resources("evaluate"),
    params:
        **model_params(),
        prompt=as_dict(CFG.prompt),
        generation=generation_fields(CFG),
        # with the eval set's plugin scorer, when it has one
        evaluate=lambda wc: {**eval_fields(CFG), **SCORERS[wc.eval_set]},
        execution=execution_params(),
    script:
        "../workflow/scripts/evaluate.py"


use rule evaluate_base as evaluate_adapter with:
    input:
        **eval_inputs(),
        adapter=RUN.adapter,
    output:
        **PATHS.evaluation_outputs(PATHS.run_name("{subset}", "{seed}")),
    log:
        PATHS.log("eval/{eval_set}-{subset}-seed{seed}"),
    # On a cluster, `--group-components evaluate_adapter=N` submits N adapter evaluations
    # as one job (docs/cluster.md); without it each is still its own submission. The base
    # evaluation stays outside the group so that it need not wait for any training.
    group:
        "evaluate_adapter"


use rule evaluate_base as evaluate_step with:
    input:
        **eval_inputs(),
        adapter=RUN.step_adapter("{step}"),
    output:
        **PATHS.evaluation_outputs(PATHS.run_name("{subset}", "{seed}", "{step}")),
    log:
        PATHS.log("eval/{eval_set}-{subset}-seed{seed}-step{step}"),
    # the same group as the final adapters: many small jobs per run, one submission per N
    group:
        "evaluate_adapter"
