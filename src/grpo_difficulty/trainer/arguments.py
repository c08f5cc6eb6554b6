"""TRL's GRPOConfig for a training level, from the train section."""

from __future__ import annotations

import torch

from .. import parallel
from ..config.sections import RolloutConfig, TrainConfig
from ..generation.models import device_and_dtype
from .tracking import Tracking


def grpo_config(
    cfg: TrainConfig,
    output_dir: str,
    seed: int,
    reward_weights: list[float],
    stop_token_ids=(),
    tracking: Tracking | None = None,
):
    """TRL's GRPOConfig of a training level. prompts_per_step x num_generations is the
    global batch, split over the data-parallel processes; `stop_token_ids` end a
    completion besides the tokenizer's end token (vLLM rollouts take them here, HF
    rollouts from the generation config `build_trainer` gives the model); `tracking`
    names the experiment trackers (none without it)."""
    from trl import GRPOConfig

    device, dtype = device_and_dtype(cfg.dtype)
    completions = cfg.prompts_per_step * cfg.num_generations
    return GRPOConfig(
        output_dir=output_dir,
        seed=seed,
        data_seed=seed,
        max_steps=cfg.steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        optim=cfg.optim,
        per_device_train_batch_size=completions // parallel.world_size(),
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        # the probe's distribution: nothing but temperature and top-p (TRL's defaults, stated)
        top_k=0,
        min_p=None,
        repetition_penalty=1.0,
        beta=cfg.beta,
        loss_type=cfg.loss_type,
        scale_rewards=cfg.scale_rewards,
        epsilon=cfg.epsilon,
        epsilon_high=cfg.epsilon_high,
        mask_truncated_completions=cfg.mask_truncated_completions,
        bf16=dtype == torch.bfloat16,
        use_cpu=device == "cpu",
        gradient_checkpointing=cfg.gradient_checkpointing,
        # every LoRA weight takes part in every step: DDP need not search for unused ones
        # (a search that gradient checkpointing would break)
        ddp_find_unused_parameters=False,
        reward_weights=reward_weights,
        logging_steps=1,
        save_steps=cfg.save_steps,
        save_strategy="steps",
        disable_tqdm=False,
        **(tracking.arguments() if tracking else dict(report_to="none")),
        **vllm_options(cfg.generation, list(stop_token_ids)),
    )


def vllm_options(generation: RolloutConfig, stop_token_ids: list[int]) -> dict:
    """GRPOConfig's vLLM settings for train.generation: none for the hf backend and for
    sync: adapter (TRL then runs its transformers path and the trainer's own engine
    generates, trainer/vllm_rollouts.py). Server mode talks to the server that
    grpo_difficulty.train_run started for this job."""
    if generation.backend != "vllm" or generation.sync == "adapter":
        return {}
    options = dict(
        use_vllm=True,
        vllm_mode=generation.mode,
        vllm_max_model_length=generation.max_model_len,
        generation_kwargs=dict(stop_token_ids=stop_token_ids) if stop_token_ids else None,
    )
    if generation.mode == "server":
        url, group_port = parallel.vllm_server()
        return dict(
            options, vllm_server_base_url=url, vllm_group_port=group_port, vllm_server_timeout=generation.server_timeout
        )
    return dict(
        options,
        vllm_gpu_memory_utilization=generation.gpu_memory_utilization,
        vllm_tensor_parallel_size=generation.tensor_parallel_size,
        vllm_enable_sleep_mode=generation.enable_sleep_mode,
    )
