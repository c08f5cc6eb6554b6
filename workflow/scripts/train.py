"""Train one GRPO+LoRA adapter (rule train_adapter): in this process, or in several data-parallel
processes with a vLLM server beside them (grpo_difficulty.train_run).

Everything runs under the `__main__` guard: with train.generation.sync: adapter the
rollout engine starts worker processes, which re-import this file (without Snakemake's
preamble, so without the `snakemake` object) as `__mp_main__`.
"""

from pathlib import Path

from grpo_difficulty.config.sections import as_dict
from grpo_difficulty.files import hub_offline, log_to, use_own_gpus
from grpo_difficulty.generation.models import job_model
from grpo_difficulty.train_run import run

if __name__ == "__main__":
    with log_to(snakemake.log[0]):
        hub_offline()  # the model is a local folder (prepare_model), the data prepared tables
        gpus = use_own_gpus(snakemake.resources.gpu, snakemake.rule)
        processes = snakemake.params.processes
        model, quantization = job_model(snakemake.params)  # a local folder; bitsandbytes weights
        job = dict(
            model=model,
            quantization=None if quantization is None else as_dict(quantization),
            subset=snakemake.input.subset,
            prompt=snakemake.params.prompt,
            train=snakemake.params.execution.train_section(snakemake.params.train),
            scorer=getattr(snakemake.params, "scorer", None),  # the training set's plugin scorer, if any
            seed=int(snakemake.wildcards.seed),
            out_dir=str(Path(snakemake.output.info).parent),
            export_steps=snakemake.params.export_steps,
            threads=max(1, snakemake.threads // processes),
            tracking=snakemake.params.tracking.as_job(),  # the experiment trackers (train.report_to)
        )
        print(run(job, processes, gpus))
