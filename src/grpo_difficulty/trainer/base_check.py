"""The base check (train.base_check): per generation batch of a training step, the
learnable % of the BASE model (the adapter disabled) on the step's own prompts, sampled
with training's settings and scored by its correctness reward. Beside `learnable/correctness`
it tells the probe's prediction error (prediction vs base check) from the drift training
caused (training - base check). The TRL members it reads are listed in compat.py."""

from __future__ import annotations

import torch
from transformers import GenerationConfig
from trl.models import unwrap_model_for_generation

from ..files import stable_hash
from ..generation.prefill import generate_rows
from .compat import require_supported_trl

require_supported_trl()

# the metric in TRL's log history: the base model's learnable % of the step's groups
BASE_METRIC = "learnable/base"


def base_rewards(trainer, inputs: list[dict], batch: dict, correctness: int) -> torch.Tensor:
    """Correctness rewards (the reward function at index `correctness`) of G base-model
    samples of each group whose first row this process holds (TRL splits a generation
    batch into equal contiguous slices), G consecutive rows per group: over the
    processes, every group of the batch once."""
    G = trainer.num_generations
    start = trainer.accelerator.process_index * len(inputs)  # global row of the first local row
    firsts = [i for i in range(len(inputs)) if (start + i) % G == 0]
    if not firsts:
        return torch.empty(0)
    prompts = [
        ids[mask.bool()].tolist()
        for ids, mask in zip(batch["prompt_ids"][firsts], batch["prompt_mask"][firsts], strict=True)
    ]
    completion_ids = base_completions(trainer, prompts)
    rows = [inputs[i] for i in firsts for _ in range(G)]
    columns = {k: [row[k] for row in rows] for k in rows[0] if k not in ("prompt", "completion", "completion_ids")}
    rewards = trainer.reward_funcs[correctness](
        prompts=[row["prompt"] for row in rows],
        completions=trainer.processing_class.batch_decode(completion_ids, skip_special_tokens=True),
        completion_ids=completion_ids,
        trainer_state=trainer.state,
        **columns,
    )
    return torch.tensor([torch.nan if r is None else r for r in rewards], dtype=torch.float32)


def base_completions(trainer, prompts: list[list[int]]) -> list[list[int]]:
    """G completions of each prompt by the model with its adapter disabled, by plain HF
    generation with training's sampling settings (also when training's rollouts come
    from vLLM), each prompt prefilled once (generation.prefill.generate_rows, as the
    shared-prompt rollouts), each ending after its first end id as TRL's do. Drawn in a
    forked RNG seeded from (seed, step, process, prompts): training draws what it would
    without the check, and the samples do not depend on the learning rate."""
    G = trainer.num_generations
    seed = stable_hash([trainer.args.seed, trainer.state.global_step, trainer.accelerator.process_index, prompts], 8)
    kwargs = generation_kwargs(trainer)
    device = trainer.accelerator.device
    cuda = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    with (
        torch.random.fork_rng(devices=cuda),
        unwrap_model_for_generation(
            trainer.model_wrapped,
            trainer.accelerator,
            gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
            generation_kwargs=kwargs,
            gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs,
        ) as model,
        torch.no_grad(),
        trainer._dist.summon_full_params(trainer.model_wrapped, recurse=False),
    ):
        if not hasattr(model, "disable_adapter"):
            raise ValueError(f"train.base_check: the trained {type(model).__name__} has no adapter to disable")
        torch.manual_seed(int(seed, 16))
        with model.disable_adapter():
            return generate_rows(
                model,
                prompts,
                [i for i in range(len(prompts)) for _ in range(G)],
                kwargs["pad_token_id"],
                GenerationConfig(**kwargs, disable_compile=True),
                trainer.eos_token_ids,
            )


def generation_kwargs(trainer) -> dict:
    """TRL's generation settings of its transformers path (GRPOTrainer.__init__), built from
    the trainer's attributes: TRL makes none when its vLLM engine generates. The project
    gives TRL no args.generation_kwargs for HF generation (its stop ids are end ids)."""
    tokenizer = trainer._tokenizer
    return dict(
        max_new_tokens=trainer.max_completion_length,
        do_sample=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=trainer.eos_token_ids,
        temperature=trainer.temperature,
        top_p=trainer.top_p,
        top_k=trainer.top_k,
        min_p=trainer.min_p,
        repetition_penalty=trainer.repetition_penalty,
        cache_implementation=trainer.args.cache_implementation,
    )
