"""Train one GRPO+LoRA adapter (rule train)."""
from pathlib import Path

import torch

from grpo_difficulty.files import log_to, read_table, use_own_gpus
from grpo_difficulty.train import export_step_adapters, train_adapter

with log_to(snakemake.log[0]):
    use_own_gpus(snakemake.resources.gpu, snakemake.rule)
    torch.set_num_threads(snakemake.threads)
    info = train_adapter(snakemake.params.model, read_table(snakemake.input.subset),
                         snakemake.params.prompt, snakemake.params.train,
                         int(snakemake.wildcards.seed), Path(snakemake.output.info).parent)
    export_step_adapters(Path(snakemake.output.info).parent, snakemake.params.export_steps, snakemake.params.train)
    print(info)
