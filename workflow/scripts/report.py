"""Summary table and plots across strategies and seeds (rule report)."""
import json

import pandas as pd

from grpo_difficulty import report
from grpo_difficulty.files import log_to, read_table, write_table, write_text

with log_to(snakemake.log[0]):
    out = snakemake.output
    eval_sets = snakemake.params.eval_sets
    base = {e: read_table(p) for e, p in zip(eval_sets, snakemake.input.base)}
    runs, n_runs = [], len(snakemake.params.runs)
    for i, eval_set in enumerate(eval_sets):
        for j, run in enumerate(snakemake.params.runs):
            runs.append(dict(run, eval_set=eval_set,
                             predictions=read_table(snakemake.input.runs[i * n_runs + j]),
                             train_info=json.loads(open(snakemake.input.train_info[j]).read())))
    table = report.summary_table(runs, base)
    write_table(table, out.csv)
    write_text(report.markdown(table), out.markdown)
    report.plot_pass_rates(read_table(snakemake.input.pass_rates), snakemake.params.k, out.pass_rates)
    per_tier = pd.concat([base[eval_sets[0]].assign(model="base")]
                         + [r["predictions"].assign(model=r["subset"]) for r in runs if r["eval_set"] == eval_sets[0]])
    report.plot_tier_accuracy(per_tier, out.tiers)
    report.plot_learnable_vs_gain(table, out.learnable)
    print(report.markdown(table))
