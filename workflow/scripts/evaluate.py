"""Evaluate the base model, an adapter or a checkpoint's adapter on one eval set (rules
evaluate_*): greedy answers, plus sampled answers and pass@k when configured.

Under the `__main__` guard for the vLLM backend (see probe.py)."""

from pathlib import Path

import torch

from grpo_difficulty import evaluate, tasks
from grpo_difficulty.config.sections import EvaluateConfig, PromptConfig, build
from grpo_difficulty.files import hub_offline, log_to, read_table, use_own_gpus, write_json, write_table
from grpo_difficulty.generation.backends import make_generator
from grpo_difficulty.generation.models import job_model

if __name__ == "__main__":
    params = snakemake.params
    with log_to(snakemake.log[0]):
        hub_offline()  # the model is a local folder (prepare_model), the data prepared tables
        use_own_gpus(snakemake.resources.gpu, snakemake.rule)
        torch.set_num_threads(snakemake.threads)
        rows = read_table(snakemake.input.data)
        adapter = str(Path(snakemake.input.adapter).parent) if "adapter" in snakemake.input.keys() else None
        backend = params.execution.backend_config(params.generation)
        model, quantization = job_model(params)  # a local folder; bitsandbytes weights
        generator = make_generator(backend, model, adapter, params.execution.lora_rank, quantization)
        prompt = build(PromptConfig, params.prompt, "prompt.")
        # eval_fields: the sampling settings only when it samples (the rest keep their defaults,
        # unused), and the eval set's plugin scorer if it has one
        fields = {key: value for key, value in params.evaluate.items() if key != "scorer"}
        settings = build(EvaluateConfig, fields, "evaluate.")
        scorer = tasks.PluginScorer.of(params.evaluate.get("scorer"))
        predictions, samples = evaluate.predict(generator, rows, prompt, settings, snakemake.rule, scorer)
        write_table(predictions, snakemake.output.predictions)
        write_table(samples, snakemake.output.samples)
        summary = evaluate.summarize(predictions)
        write_json(summary, snakemake.output.summary)
        print(summary)
