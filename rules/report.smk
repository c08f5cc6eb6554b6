# Report: summary table (CSV + Markdown), per-tier and accuracy-vs-steps tables, and
# plots registered for `snakemake --report`.


rule report:
    input:
        pass_rates=pass_rates_path(),
        base=expand(eval_path("{eval_set}", "base"), eval_set=config["eval_sets"]),
        points=[p["path"] for p in report_points()],
        train_info=[f"{run_dir(s, seed)}/train_info.json" for s, seed in runs()],
        metrics=[f"{run_dir(s, seed)}/metrics.csv" for s, seed in runs()],
        stats=[f"{EXP}/subsets/{s}.json" for s in config["subsets"]],
    output:
        csv=f"{EXP}/report/summary.csv",
        markdown=f"{EXP}/report/summary.md",
        tiers_csv=f"{EXP}/report/tier_accuracy.csv",
        curves_csv=f"{EXP}/report/accuracy_steps.csv",
        steps_csv=f"{EXP}/report/steps_to_match.csv",
        pass_rates=report(f"{EXP}/report/pass_rates.png", caption="../report/pass_rates.rst",
                          category="Probe"),
        tiers=report(f"{EXP}/report/tier_accuracy.png", caption="../report/tier_accuracy.rst",
                     category="Evaluation"),
        steps=report(f"{EXP}/report/accuracy_steps.png", caption="../report/accuracy_steps.rst",
                     category="Evaluation"),
        learnable=report(f"{EXP}/report/learnable_vs_gain.png", caption="../report/learnable_vs_gain.rst",
                         category="Evaluation"),
        predicted=report(f"{EXP}/report/predicted_learnable.png", caption="../report/predicted_learnable.rst",
                         category="Training"),
        training=report(f"{EXP}/report/training_curves.png", caption="../report/training_curves.rst",
                        category="Training"),
    log:
        f"{EXP}/logs/report.log",
    params:
        eval_sets=config["eval_sets"],
        train_set=config["train_set"],
        experiment=NAME,
        model=config["model"],
        runs=[dict(subset=s, seed=seed, strategy=config["subsets"][s]["strategy"]) for s, seed in runs()],
        subsets=list(config["subsets"]),
        points=report_points(),
        k=config["probe"]["k"],
        pass_k=config["evaluate"]["pass_k"],
        every_steps=config["evaluate"]["every_steps"],
        bootstrap=config["evaluate"]["bootstrap"],
        full_subset=full_data_subset(),
    resources:
        **config["resources"]["report"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/report.py"


rule compare:
    # Other experiments' reports are inputs no rule here makes: run those configs first
    # (Snakemake names a missing one).
    input:
        [f"{RESULTS}/{name}/report/summary.csv" for name in [NAME, *config["compare_with"]]],
    output:
        csv=f"{EXP}/report/comparison.csv",
        markdown=f"{EXP}/report/comparison.md",
    log:
        f"{EXP}/logs/compare.log",
    resources:
        **config["resources"]["report"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/compare.py"
