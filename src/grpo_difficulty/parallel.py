"""Which process of a data-parallel training run this is, and where the run's vLLM server
listens. grpo_difficulty.train_run starts the processes (torchrun through `accelerate
launch`) and the server, and sets up the process group before any training code runs,
so these work before TRL's trainer exists; in a run of one process they are no-ops."""

from __future__ import annotations

import os

# Set by train_run for the training processes of a job with a vLLM server (server mode):
# the ports are picked when the job starts, so they are no setting of the config.
VLLM_SERVER_URL = "GRPO_DIFFICULTY_VLLM_SERVER_URL"
VLLM_GROUP_PORT = "GRPO_DIFFICULTY_VLLM_GROUP_PORT"


def _initialized() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if _initialized() else 1


def is_main_process() -> bool:
    """The process that writes the run's files (checkpoints are TRL's business)."""
    import torch.distributed as dist

    return not _initialized() or dist.get_rank() == 0


def wait_for_everyone() -> None:
    """Barrier: what the main process wrote before it is there for all."""
    import torch.distributed as dist

    if _initialized():
        dist.barrier()


def vllm_server() -> tuple[str, int]:
    """(base URL, weight-update group port) of this job's vLLM server."""
    if VLLM_SERVER_URL not in os.environ:
        raise RuntimeError(
            "train.generation.mode is server, but no vLLM server was started for this process: "
            "server mode runs through grpo_difficulty.train_run.run, which starts it"
        )
    return os.environ[VLLM_SERVER_URL], int(os.environ[VLLM_GROUP_PORT])
