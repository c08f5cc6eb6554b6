# Report: summary table (CSV + Markdown) and plots, registered for `snakemake --report`.


rule report:
    input:
        pass_rates=pass_rates_path(),
        base=expand(eval_path("{eval_set}", "base"), eval_set=config["eval_sets"]),
        runs=[eval_path(e, f"{s}/seed{seed}") for e in config["eval_sets"] for s, seed in runs()],
        train_info=[f"{run_dir(s, seed)}/train_info.json" for s, seed in runs()],
    output:
        csv=f"{EXP}/report/summary.csv",
        markdown=f"{EXP}/report/summary.md",
        pass_rates=report(f"{EXP}/report/pass_rates.png", caption="../report/pass_rates.rst",
                          category="Probe"),
        tiers=report(f"{EXP}/report/tier_accuracy.png", caption="../report/tier_accuracy.rst",
                     category="Evaluation"),
        learnable=report(f"{EXP}/report/learnable_vs_gain.png", caption="../report/learnable_vs_gain.rst",
                         category="Evaluation"),
    log:
        f"{EXP}/logs/report.log",
    params:
        eval_sets=config["eval_sets"],
        runs=[dict(subset=s, seed=seed, strategy=config["subsets"][s]["strategy"]) for s, seed in runs()],
        k=config["probe"]["k"],
    resources:
        **config["resources"]["report"],
    conda:
        "../envs/workflow.yaml"
    script:
        "../workflow/scripts/report.py"
