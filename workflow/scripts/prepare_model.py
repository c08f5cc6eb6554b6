"""Prepare the model folder (rule prepare_model): download a hub model at its revision,
or convert the embedded SmolLM2-135M-Instruct GGUF into an HF folder."""

from pathlib import Path

from grpo_difficulty.files import log_to
from grpo_difficulty.generation.models import prepare_embedded_model
from grpo_difficulty.hub_models import prepare_hub_model

with log_to(snakemake.log[0]):
    out_dir = Path(snakemake.output[0]).parent
    hub = getattr(snakemake.params, "hub", None)
    if hub is None:
        prepare_embedded_model(out_dir)
    else:
        print(prepare_hub_model(hub["model"], hub["revision"], out_dir))
