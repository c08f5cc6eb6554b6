"""Evaluate the base model, an adapter or a checkpoint's adapter on one eval set (rules
evaluate_*): greedy answers, plus sampled answers and pass@k when configured.

Under the `__main__` guard for the vLLM backend (see probe.py)."""

from pathlib import Path

import torch

from grpo_difficulty import evaluate, tasks
from grpo_difficulty.config.sections import Config, build
from grpo_difficulty.files import log_to, read_table, use_own_gpus, write_json, write_table
from grpo_difficulty.generation.backends import make_generator

if __name__ == "__main__":
    cfg = build(Config, snakemake.config)
    with log_to(snakemake.log[0]):
        use_own_gpus(snakemake.resources.gpu, snakemake.rule)
        torch.set_num_threads(snakemake.threads)
        rows = read_table(snakemake.input.data)
        tasks.check_disjoint(read_table(snakemake.input.train_data), rows, "train_set", snakemake.wildcards.eval_set)
        adapter = str(Path(snakemake.input.adapter).parent) if "adapter" in snakemake.input.keys() else None
        generator = make_generator(cfg.backend, snakemake.params.model, adapter, cfg.train.lora.r)
        predictions, samples = evaluate.predict(generator, rows, cfg.prompt, cfg.evaluate, desc=snakemake.rule)
        write_table(predictions, snakemake.output.predictions)
        write_table(samples, snakemake.output.samples)
        summary = evaluate.summarize(predictions)
        write_json(summary, snakemake.output.summary)
        print(summary)
