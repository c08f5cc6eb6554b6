"""Convert the embedded SmolLM2-135M-Instruct GGUF into an HF folder (rule prepare_model)."""

from pathlib import Path

from grpo_difficulty.files import log_to
from grpo_difficulty.generation.models import prepare_embedded_model

with log_to(snakemake.log[0]):
    prepare_embedded_model(Path(snakemake.output[0]).parent)
