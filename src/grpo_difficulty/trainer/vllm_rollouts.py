"""Rollouts by the project's vLLM engine, which receives only the LoRA adapter after each
optimizer step (train.generation: {backend: vllm, sync: adapter}). The TRL members it
overrides or reads are listed in compat.py."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

from ..config.sections import TrainConfig
from ..config.topology import vllm_lora_rank
from ..files import stable_hash
from ..generation.models import device_and_dtype
from ..generation.vllm import VLLMGenerator
from .compat import require_supported_trl
from .learnable import LearnableGRPOTrainer

require_supported_trl()


def adapter_sync(cfg: TrainConfig) -> bool:
    """Do this run's rollouts come from a VLLMGenerator that follows the adapter?"""
    return cfg.generation.backend == "vllm" and cfg.generation.sync == "adapter"


@contextlib.contextmanager
def rollout_engine(model_ref: str, cfg: TrainConfig) -> Iterator[Callable[[], VLLMGenerator]]:
    """The run's rollout engine for sync: adapter, as a function that builds it at its
    first call (a run whose levels are all finished starts none) and returns the same
    engine to every level after; stopped when the run ends or fails. In the training
    dtype, with LoRA slots of train.lora.r."""
    built: list[VLLMGenerator] = []

    def engine() -> VLLMGenerator:
        if not built:
            gen = cfg.generation
            built.append(
                VLLMGenerator(
                    model_ref,
                    str(device_and_dtype(cfg.dtype)[1]).removeprefix("torch."),
                    gpu_memory_utilization=gen.gpu_memory_utilization,
                    max_model_len=gen.max_model_len,
                    max_lora_rank=vllm_lora_rank(cfg.lora.r),
                    enable_lora=True,
                )
            )
        return built[0]

    try:
        yield engine
    finally:
        for running in built:
            running.close()


def rollout_arguments(cfg: TrainConfig, engine: Callable[[], VLLMGenerator] | None) -> dict:
    """The trainer's keyword arguments for the engine of `rollout_engine` (none without
    sync: adapter)."""
    if not adapter_sync(cfg):
        return {}
    if engine is None:
        raise ValueError("train.generation.sync: adapter: the trainer needs the run's rollout_engine")
    return dict(rollout_engine=engine())


class VLLMRolloutGRPOTrainer(LearnableGRPOTrainer):
    """GRPOTrainer whose rollouts come from `rollout_engine`, a VLLMGenerator.

    Before the first generation of each optimizer step (and the first after a resume) the
    trained adapter alone is saved to a new folder and handed to the engine under a new
    LoRA id (`VLLMGenerator.use_adapter`); the base weights in the engine never change,
    so nothing is merged or copied into it. TRL itself runs its transformers path
    (GRPOConfig use_vllm False): no engine of its own, no importance-sampling correction
    (the engine samples from the policy of this step, as the HF rollouts do).

    Sampling follows the probe's rules: each distinct prompt of a generation batch is one
    request of n samples, sample j drawn with seed request_seed(round seed, prompt) + j,
    the round seed depending on the run's seed, the global step and the round within the
    step, so a resumed run draws what the uninterrupted one would. Temperature and top-p
    are GRPOConfig's (nothing else: top_k 0, no min-p or penalties); a completion ends
    with the first of TRL's end ids (the newline stop tokens included), kept as its last
    token, as on TRL's transformers path.
    """

    def __init__(self, *args, rollout_engine: VLLMGenerator, **kwargs):
        super().__init__(*args, **kwargs)
        self.rollout_engine = rollout_engine
        self._synced_step = None
        self._round = 0
        self._sync_dir = Path(tempfile.mkdtemp(prefix="adapter-sync-"))
        weakref.finalize(self, shutil.rmtree, self._sync_dir, ignore_errors=True)

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if images is not None or multimodal_fields or has_tool_images:
            raise ValueError("train.generation.sync: adapter serves text prompts only; use sync: merged")
        if self.state.global_step != self._synced_step:
            self.sync_adapter()
        index: dict[tuple, list[int]] = {}  # distinct prompt -> its rows, in order of first appearance
        for row, ids in enumerate(prompt_ids):
            index.setdefault(tuple(ids), []).append(row)
        seed = int(stable_hash([self.args.seed, self.state.global_step, self._round], 8), 16)
        self._round += 1
        samples = self.rollout_engine.generate_tokens(
            [list(p) for p in index],
            max(len(rows) for rows in index.values()),
            self.temperature,
            self.top_p,
            self.max_completion_length,
            seed,
            stop_token_ids=self.eos_token_ids,
            desc=f"rollouts step {self.state.global_step + 1}",
        )
        completions = [None] * len(prompt_ids)
        for rows, drawn in zip(index.values(), samples, strict=True):
            for row, (ids, _) in zip(rows, drawn, strict=False):
                completions[row] = ids
        return completions, None

    def sync_adapter(self) -> None:
        """Hand the engine the adapter as it is now (a new folder and LoRA id), and delete
        the folder of the one before."""
        folder = self._sync_dir / f"step{self.state.global_step}"
        self.accelerator.unwrap_model(self.model).save_pretrained(folder)
        previous = self.rollout_engine.lora
        self.rollout_engine.use_adapter(str(folder))
        if previous is not None and Path(previous.lora_path).parent == self._sync_dir:
            shutil.rmtree(previous.lora_path, ignore_errors=True)
        self._synced_step, self._round = self.state.global_step, 0
