# Report: summary table (CSV + Markdown), per-tier and accuracy-vs-steps tables, and
# the summary page (summary.md as HTML) and plots registered for `snakemake --report`.


# tables and plots in seconds: on a cluster they run where Snakemake runs, not as submissions
localrules:
    report,
    compare,


rule report:
    input:
        difficulty=difficulty_path(),
        base=[PATHS.evaluation(e, "base").predictions for e in CFG.eval_sets],
        points=[p["path"] for p in report_points()],
        train_info=[PATHS.run(s, seed).info for s, seed in CFG.runs()],
        metrics=[PATHS.run(s, seed).metrics for s, seed in CFG.runs()],
        stats=[selection(s, seed, "json") for s, seed in CFG.runs()],
        checks=PATHS.selection_checks,
    output:
        **{key: PATHS.report(file) for key, file in REPORT_TABLES.items()},
        **{
            key: report(
                PATHS.report(shown.file), caption=f"../report/{Path(shown.file).stem}.rst", category=shown.category
            )
            for key, shown in {**REPORT_PAGES, **REPORT_PLOTS}.items()
        },
    log:
        PATHS.log("report"),
    conda:
        "../envs/workflow.yaml"
    resources:
        **resources("report"),
    params:
        eval_sets=CFG.eval_sets,
        runs=[dict(subset=s, seed=seed, strategy=CFG.subsets[s].strategy) for s, seed in CFG.runs()],
        points=report_points(),
        # rebuilt as report.settings.ReportSettings by the script (a dict: Snakemake tracks its values)
        settings=dict(
            k=CFG.probe.k,
            pass_k=CFG.evaluate.pass_k,
            bootstrap=CFG.evaluate.bootstrap,
            full_subset=CFG.full_data_subset(),
            every_steps=CFG.evaluate.every_steps,
            train_set=CFG.train_set,
            experiment=CFG.name,
            model=CFG.model,
            difficulty=difficulty_source(CFG),
            per_seed=[name for name, spec in CFG.subsets.items() if spec.per_seed],
            sampling=sampling_statement(CFG),
        ),
    script:
        "../workflow/scripts/report.py"


rule compare:
    # Other experiments' reports are inputs no rule here makes: run those configs first
    # (Snakemake names a missing one).
    input:
        [f"{PATHS.results}/{name}/report/summary.csv" for name in [CFG.name, *CFG.compare_with]],
    output:
        csv=PATHS.report("comparison.csv"),
        markdown=PATHS.report("comparison.md"),
    log:
        PATHS.log("compare"),
    conda:
        "../envs/workflow.yaml"
    resources:
        **resources("report"),
    script:
        "../workflow/scripts/compare.py"
