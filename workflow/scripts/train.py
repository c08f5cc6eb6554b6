"""Train one GRPO+LoRA adapter (rule train)."""
from pathlib import Path

import torch

from grpo_difficulty.config import Config, as_dict, build
from grpo_difficulty.files import log_to, read_table, use_own_gpus
from grpo_difficulty.train import export_step_adapters, train_adapter

cfg = build(Config, snakemake.config)
with log_to(snakemake.log[0]):
    use_own_gpus(snakemake.resources.gpu, snakemake.rule)
    torch.set_num_threads(snakemake.threads)
    out_dir = Path(snakemake.output.info).parent
    train = snakemake.params.train
    info = train_adapter(snakemake.params.model, read_table(snakemake.input.subset), as_dict(cfg.prompt), train,
                         int(snakemake.wildcards.seed), out_dir)
    export_step_adapters(out_dir, snakemake.params.export_steps, train)
    print(info)
