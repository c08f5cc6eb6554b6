"""One probe job: a block of K samples, or the greedy answers, for one row range of the
training table.

Everything runs under the `__main__` guard: the vLLM backend starts its engine in
spawned processes, which re-import this file (without Snakemake's preamble, so without
the `snakemake` object) as `__mp_main__`.
"""

import torch

from grpo_difficulty import probe, tasks
from grpo_difficulty.config.sections import PromptConfig, build
from grpo_difficulty.files import hub_offline, log_to, read_table, stop_on_sigterm, use_own_gpus, write_table
from grpo_difficulty.generation.backends import make_generator
from grpo_difficulty.generation.models import job_model

if __name__ == "__main__":
    params = snakemake.params
    # probe_fields: the prompt, the backend's name and dtype, the sampling settings, a plugin
    # scorer, the quantization (which model_params pass too)
    loading = ("prompt", "backend", "scorer", "quantization")
    sampling = {key: value for key, value in params.settings.items() if key not in loading}
    # SIGTERM (a preempted job) drops the block: nothing half-written, a non-zero exit
    with log_to(snakemake.log[0]), stop_on_sigterm():
        hub_offline()  # the model is a local folder (prepare_model), the data prepared tables
        use_own_gpus(snakemake.resources.gpu, snakemake.rule)
        torch.set_num_threads(snakemake.threads)
        start, stop = int(snakemake.wildcards.start), int(snakemake.wildcards.stop)
        rows = probe.row_range(read_table(snakemake.input.data), start, stop)
        model, quantization = job_model(params)  # a local folder; bitsandbytes weights
        backend = params.execution.backend_config(params.settings["backend"])
        generator = make_generator(backend, model, quantization=quantization)
        prompt, desc = build(PromptConfig, params.settings["prompt"], "prompt."), f"probe rows {start}-{stop}"
        scorer = tasks.PluginScorer.of(params.settings.get("scorer"))
        if snakemake.rule == "probe_greedy":
            table = probe.probe_greedy(generator, rows, prompt, sampling["max_new_tokens"], desc, scorer)
        else:
            block = int(snakemake.wildcards.block)
            table = probe.probe_block(generator, rows, prompt, block, **sampling, desc=desc, scorer=scorer)
        write_table(table, snakemake.output[0])
