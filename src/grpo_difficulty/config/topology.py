"""Processes and GPUs of the jobs, and copies of the tables of transformers and vLLM that
decide what a config may ask for (their own modules import torch: seconds at every
Snakefile parse)."""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path

from .sections import ConfigError, ResourceConfig, TrainConfig

# vLLM serves LoRA adapters up to a `max_lora_rank` chosen from these values
# (vllm/config/lora.py, `possible_max_ranks`).
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


def vllm_lora_rank(r: int) -> int:
    """The smallest max_lora_rank vLLM accepts that holds a rank-r adapter."""
    for rank in VLLM_LORA_RANKS:
        if r <= rank:
            return rank
    raise ConfigError("train.lora.r", f"{r}: the vllm backend serves LoRA adapters up to rank {VLLM_LORA_RANKS[-1]}")


def server_gpus(train: TrainConfig) -> int:
    """GPUs of a train job that its vLLM server takes (train.generation.mode server)."""
    gen = train.generation
    return gen.tensor_parallel_size if gen.backend == "vllm" and gen.mode == "server" else 0


def training_processes(train: TrainConfig, resources: ResourceConfig) -> int:
    """Data-parallel processes of one training run: train.processes if set, else one per
    GPU of the job that does not serve vLLM (one on CPU)."""
    if train.processes is not None:
        return train.processes
    return max(1, resources.gpu - server_gpus(train))


# transformers' optimizers that come from bitsandbytes (trainer_optimizer.py,
# _BITSANDBYTES_OPTIMIZERS): the train job then needs it installed (envs/vllm.yaml).
BITSANDBYTES_OPTIMIZERS = frozenset(
    {
        "adamw_bnb_8bit",
        "adamw_8bit",
        "paged_adamw_32bit",
        "paged_adamw_8bit",
        "ademamix",
        "ademamix_8bit",
        "paged_ademamix_32bit",
        "paged_ademamix_8bit",
        "lion_32bit",
        "lion_8bit",
        "paged_lion_32bit",
        "paged_lion_8bit",
        "rmsprop_bnb",
        "rmsprop_bnb_8bit",
        "rmsprop_bnb_32bit",
    }
)


def needs_bitsandbytes(optim: str) -> bool:
    return optim in BITSANDBYTES_OPTIMIZERS


@functools.cache
def transformers_optimizers() -> list[str] | None:
    """The values of transformers' `OptimizerNames`, read from its source (importing
    transformers.training_args imports torch: seconds at every Snakefile parse). None
    where transformers is not installed (the job then names the problem itself)."""
    spec = importlib.util.find_spec("transformers")
    if spec is None or spec.origin is None:
        return None
    tree = ast.parse((Path(spec.origin).parent / "training_args.py").read_text())
    names = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "OptimizerNames")
    return [
        stmt.value.value for stmt in names.body if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
    ]
