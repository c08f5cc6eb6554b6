"""Name what makes the selections unable to teach, on the console and in a file the report
reads (rule check_selections): subsets predicted to be barely learnable, and subsets that
select the same problems."""

import json
from pathlib import Path

from grpo_difficulty import select
from grpo_difficulty.files import log_to, read_table, write_json

params = snakemake.params
with log_to(snakemake.log[0]) as log:
    selections = [
        dict(run, ids=read_table(table, ["id"])["id"].tolist(), stats=json.loads(Path(stats).read_text()))
        for run, table, stats in zip(params.runs, snakemake.input.tables, snakemake.input.stats, strict=True)
    ]
    warnings = select.selection_warnings(selections, params.min_predicted_learnable)
    for warning in warnings:
        log.warn(warning)
    print(f"{len(selections)} selections checked: {len(warnings)} warnings")
    write_json(dict(min_predicted_learnable=params.min_predicted_learnable, warnings=warnings), snakemake.output[0])
