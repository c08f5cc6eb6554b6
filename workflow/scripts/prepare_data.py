"""Load one dataset into the normalized table (rule prepare_data)."""

from grpo_difficulty import tasks
from grpo_difficulty.files import log_to, write_table

with log_to(snakemake.log[0]):
    spec = snakemake.params.spec
    bad = tasks.BadRows(tasks.dataset_source(spec), spec["bad_rows"], dataset=snakemake.wildcards.dataset)
    rows = tasks.load_rows(spec, bad)
    write_table(rows, snakemake.output[0])
    print(bad.summary())
    print(f"{snakemake.wildcards.dataset}: {len(rows)} rows; per tier:")
    print(rows["tier"].value_counts().sort_index().to_string())
