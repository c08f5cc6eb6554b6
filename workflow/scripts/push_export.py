"""Push the difficulty export to a hub dataset repository (rule push_export)."""

import datetime

from grpo_difficulty import export
from grpo_difficulty.files import log_to, write_json

with log_to(snakemake.log[0]):
    repo_id = snakemake.params.repo_id
    url = export.push_export(snakemake.input.dataset, snakemake.input.card, repo_id, snakemake.params.private)
    when = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    write_json(dict(repo_id=repo_id, commit_url=url, pushed_at=when), snakemake.output[0])
    print(f"pushed to https://huggingface.co/datasets/{repo_id} ({url})")
