"""The training set with the probe's columns and a dataset card (rule export_difficulty)."""

from pathlib import Path

from grpo_difficulty import export, probe
from grpo_difficulty.files import log_to, read_table
from grpo_difficulty.hub_models import model_revision

with log_to(snakemake.log[0]):
    table = export.difficulty_export(
        read_table(snakemake.input.data), read_table(snakemake.input.pass_rates, probe.PASS_RATE_COLUMNS)
    )
    out = snakemake.output
    info = snakemake.params.info
    folder = str(Path(snakemake.input.model[0]).parent) if snakemake.input.model else None
    revision = model_revision(info["model"], snakemake.params.model_revision, folder)
    export.write_export(table, export.ExportInfo(**info, revision=revision), out.parquet, out.dataset, out.card)
    print(f"exported {len(table)} problems to {out.parquet}, {out.dataset} and {out.card}")
