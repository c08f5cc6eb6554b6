"""Train: GRPO with a LoRA adapter (TRL GRPOTrainer + PEFT) on one subset, one seed."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import pandas as pd
import torch

from . import parallel, tasks
from .config.layout import RunPaths
from .config.sections import LEVEL_SETTINGS, PromptConfig, RolloutConfig, TrainConfig, as_dict
from .files import atomic_dir, checkpoint_of_step, stable_hash, write_json, write_table, write_text
from .generation.models import clear_generation_config, device_and_dtype, load_tokenizer, newline_token_ids
from .trainer.grpo import grpo_trainer_class, score_completion_tokens_only
from .trainer.learnable import CORRECTNESS, LEARNABLE_METRIC, learnable_pct, learnable_total_pct


def correctness_reward(fmt: str):
    """Reward 1.0 for a correct final answer (task scorer), else 0.0."""

    def correctness(prompts, completions, gold, answer_type, **_):
        return [float(tasks.score(c, g, t, fmt)[0]) for c, g, t in zip(completions, gold, answer_type, strict=True)]

    return correctness


def format_reward(fmt: str):
    """Reward 1.0 when the completion holds an answer in the prompt format's place
    (\\boxed{}, <answer>…</answer>, or a non-empty first line for fewshot)."""

    def format_ok(prompts, completions, **_):
        return [float(tasks.extract_answer(c, fmt) is not None) for c in completions]

    return format_ok


def length_penalty(max_tokens: int):
    """Reward −(completion tokens / max_completion_length): longer answers cost more."""

    def length(prompts, completions, completion_ids, **_):
        return [-len(ids) / max_tokens for ids in completion_ids]

    return length


def reward_functions(cfg: TrainConfig, fmt: str) -> tuple[list, list[float]]:
    """The reward callables with non-zero weight (correctness always: it makes the learnable
    %), and their weights (TRL `reward_weights`). TRL logs each one as rewards/<name>/mean
    and /std, <name> being its train.rewards key."""
    weights = as_dict(cfg.rewards)
    made = dict(
        correctness=correctness_reward(fmt), format=format_reward(fmt), length=length_penalty(cfg.max_completion_length)
    )
    for name, func in made.items():
        func.__name__ = name  # TRL names the logged columns after __name__
    chosen = [(made[name], float(w)) for name, w in weights.items() if w or name == CORRECTNESS]
    if not any(w for _, w in chosen):
        raise ValueError("train.rewards: every weight is 0; no reward to learn from")
    return [f for f, _ in chosen], [w for _, w in chosen]


def grpo_config(cfg: TrainConfig, output_dir: str, seed: int, reward_weights: list[float], stop_token_ids=()):
    """TRL's GRPOConfig of a training level. prompts_per_step x num_generations is the
    global batch, split over the data-parallel processes; `stop_token_ids` end a
    completion besides the tokenizer's end token (vLLM rollouts take them here, HF
    rollouts from the generation config `build_trainer` gives the model)."""
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
        report_to="none",
        disable_tqdm=False,
        **vllm_options(cfg.generation, list(stop_token_ids)),
    )


def vllm_options(generation: RolloutConfig, stop_token_ids: list[int]) -> dict:
    """GRPOConfig's vLLM settings for train.generation (none for the hf backend). Server
    mode talks to the server that grpo_difficulty.train_run started for this job."""
    if generation.backend != "vllm":
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


def _last_checkpoint(ckpt_dir: Path) -> str | None:
    """The latest checkpoint the trainer finished writing: trainer_state.json is its last
    file, written in place, so a job killed while writing it leaves it empty or cut short
    (resuming from it would then fail on every rerun)."""
    found = sorted(ckpt_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    complete = [p for p in found if _holds_json(p / "trainer_state.json")]
    return str(complete[-1]) if complete else None


def _holds_json(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def _checkpoint_dirs(run: RunPaths, n_levels: int, curriculum: bool) -> list[Path]:
    """Checkpoint folder of each level (RunPaths.level_checkpoints). With a curriculum,
    anything else in checkpoints/ (another layout's or a removed level's) is deleted by the
    main process: it can never be resumed."""
    dirs = [Path(run.level_checkpoints(i, curriculum)) for i in range(n_levels)]
    if not curriculum:
        return dirs
    for path in Path(run.checkpoints).glob("*"):
        if path not in dirs and parallel.is_main_process():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return dirs


def _guard(level_dir: Path, fingerprint: str) -> None:
    """Checkpoints of other settings must not be resumed: start the level over."""
    stamp = level_dir / "settings.hash"
    if level_dir.exists() and (not stamp.exists() or stamp.read_text() != fingerprint):
        shutil.rmtree(level_dir)
    level_dir.mkdir(parents=True, exist_ok=True)
    write_text(fingerprint, stamp)  # atomically: a stamp cut short by a kill would discard the checkpoints


def _level_rows(subset: pd.DataFrame, levels: list[dict]) -> list[pd.DataFrame]:
    """The problems each level trains on: those of its tiers (all for tiers None)."""
    level_rows = [subset if level["tiers"] is None else subset[subset["tier"].isin(level["tiers"])] for level in levels]
    for i, rows in enumerate(level_rows):
        if rows.empty:
            raise ValueError(
                f"train.curriculum[{i}].tiers={levels[i]['tiers']}: the training subset has no problem "
                f"of these tiers (its tiers: {sorted(subset['tier'].unique().tolist())})"
            )
    return level_rows


def train_adapter(
    model_ref: str, subset: pd.DataFrame, prompt: PromptConfig, cfg: TrainConfig, seed: int, out_dir: str | Path
) -> dict:
    """Train one adapter; writes out_dir/{adapter/, metrics.csv, train_info.json}.

    Levels (TrainConfig.levels) train one after the other on the same adapter, each a TRL
    run of its own (own steps, completion length, clip range, optimizer and learning-rate
    schedule) that starts from the adapter the level before saved. A level's checkpoints,
    every `save_steps`, and its finished adapter, metrics and level_info.json go to its
    checkpoint folder; a rerun skips finished levels and resumes the unfinished one from
    its last checkpoint. Each level's settings hash covers the levels up to it, so an edit
    of a later level keeps the earlier ones, and any other edit (or process count) starts
    over. In a data-parallel run every process calls this; the main one writes the files.
    """
    score_completion_tokens_only()
    run = RunPaths(str(out_dir))
    levels = cfg.levels()
    level_dirs = _checkpoint_dirs(run, len(levels), bool(cfg.curriculum))
    # settings of every level (each level carries its own steps and LEVEL_SETTINGS);
    # shared_prompt changes how fast, not what is computed: its checkpoints are resumed either way
    fingerprinted = {
        k: v
        for k, v in as_dict(cfg).items()
        if k not in ("seeds", "curriculum", "steps", "shared_prompt", *LEVEL_SETTINGS)
    }
    level_rows = _level_rows(subset, levels)
    tokenizer = load_tokenizer(model_ref)
    start_adapter, tables, infos = None, [], []
    for i, (level, level_dir, rows) in enumerate(zip(levels, level_dirs, level_rows, strict=True)):
        if parallel.is_main_process():
            _guard(
                level_dir,
                stable_hash(
                    [
                        model_ref,
                        subset["id"].tolist(),
                        as_dict(prompt),
                        fingerprinted,
                        levels[: i + 1],
                        seed,
                        parallel.world_size(),
                    ]
                ),
            )
        parallel.wait_for_everyone()
        if (level_dir / "level_info.json").exists():
            print(f"level {i}: finished earlier, kept")
        else:
            level_cfg = dataclasses.replace(cfg, curriculum=None, **{k: v for k, v in level.items() if k != "tiers"})
            train_level(
                model_ref, tokenizer, rows, prompt, level_cfg, seed, level_dir, start_adapter, draw_seed=(seed, i)
            )
        start_adapter = level_dir / "adapter"
        info = json.loads((level_dir / "level_info.json").read_text())
        table = pd.read_csv(level_dir / "metrics.csv")
        table.insert(1, "level", i)
        table["step"] += sum(done["steps"] for done in infos)
        tables.append(table)
        infos.append(dict(info, tiers=level["tiers"]))

    metrics = pd.concat(tables, ignore_index=True)
    info = dict(
        steps=sum(done["steps"] for done in infos),
        wall_seconds=round(sum(done["wall_seconds"] for done in infos), 1),
        learnable_pct=learnable_pct(metrics),
        learnable_total_pct=learnable_total_pct(metrics),
        n_problems=len(subset),
        seed=seed,
    )
    if cfg.curriculum:
        info["levels"] = infos
    if parallel.is_main_process():
        with atomic_dir(run.adapter_dir) as tmp:
            shutil.copytree(start_adapter, tmp)
        write_table(metrics, run.metrics)
        write_json(info, run.info)
    return info


def build_trainer(
    model_ref: str,
    tokenizer,
    rows: pd.DataFrame,
    prompt: PromptConfig,
    cfg: TrainConfig,
    seed: int,
    output_dir: Path,
    draw_seed: tuple[int, ...] = (0,),
):
    """TRL GRPOTrainer (grpo_trainer_class: shared-prompt passes when train.shared_prompt,
    dynamic sampling when train.dynamic_sampling.enabled) and a fresh LoRA adapter on the
    model, for the problems in `rows`."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, set_seed

    set_seed(seed)  # the new adapter's initial weights depend on the seed only, not on what ran before
    _, dtype = device_and_dtype(cfg.dtype)
    model = AutoModelForCausalLM.from_pretrained(model_ref, dtype=dtype)
    stop_ids = newline_token_ids(tokenizer) if "\n" in tasks.stop_strings(prompt) else []
    # TRL's generate() takes no stop strings; newline tokens as end-of-sequence ids make
    # one-line answers stop and count as terminated (not truncated) completions. TRL's
    # rollouts then sample with GRPOConfig's settings and nothing of the model's own.
    clear_generation_config(model, tokenizer, stop_ids)

    data = Dataset.from_pandas(
        pd.DataFrame(
            dict(
                prompt=[tasks.render_prompt(q, prompt, tokenizer) for q in rows["question"]],
                gold=rows["gold"].astype(str).tolist(),
                answer_type=rows["answer_type"].tolist(),
            )
        )
    )
    lora = cfg.lora
    rewards, weights = reward_functions(cfg, prompt.format)
    dynamic = cfg.dynamic_sampling
    trainer_class = grpo_trainer_class(shared_prompt=cfg.shared_prompt, dynamic_sampling=dynamic.enabled)
    extra = {}
    if dynamic.enabled:
        extra = dict(max_extra_rounds=dynamic.max_extra_rounds, draw_seed=[s % 2**32 for s in draw_seed])
    return trainer_class(
        model=model,
        reward_funcs=rewards,
        train_dataset=data,
        args=grpo_config(cfg, str(output_dir), seed, weights, stop_ids),
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules,
            task_type="CAUSAL_LM",
        ),
        **extra,
    )


def train_level(
    model_ref: str,
    tokenizer,
    rows: pd.DataFrame,
    prompt: PromptConfig,
    cfg: TrainConfig,
    seed: int,
    level_dir: Path,
    start_adapter: Path | None,
    draw_seed: tuple[int, ...],
) -> None:
    """One TRL run on `rows`, starting from `start_adapter`'s weights (None: a new adapter),
    resumed from level_dir's last checkpoint if there is one; writes level_dir/{adapter/,
    metrics.csv, level_info.json}, level_info.json last (it marks the level finished)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    trainer = build_trainer(model_ref, tokenizer, rows, prompt, cfg, seed, level_dir, draw_seed)
    if start_adapter is not None:
        # Loaded into TRL's new adapter rather than passed as a PeftModel: TRL then keeps
        # the base model (adapter disabled) as the KL reference for beta > 0 at every level.
        loaded = set_peft_model_state_dict(trainer.model, load_file(start_adapter / "adapter_model.safetensors"))
        if loaded.unexpected_keys:
            raise RuntimeError(f"{start_adapter}: weights that fit no LoRA module: {loaded.unexpected_keys[:3]}")
    started = time.time()
    resume = _last_checkpoint(level_dir)
    print(f"resuming from {resume}" if resume else "no checkpoint of these settings: training from step 0")
    trainer.train(resume_from_checkpoint=resume)
    if parallel.is_main_process():
        with atomic_dir(level_dir / "adapter") as tmp:
            trainer.model.save_pretrained(tmp)
        write_table(metrics_table(trainer.state.log_history), level_dir / "metrics.csv")
        write_json(
            dict(
                steps=int(trainer.state.global_step), wall_seconds=round(time.time() - started, 1), n_problems=len(rows)
            ),
            level_dir / "level_info.json",
        )
    parallel.wait_for_everyone()


def metrics_table(log_history: list[dict]) -> pd.DataFrame:
    """Per-step rows of TRL's log history (reward, frac_reward_zero_std, learnable/correctness...)."""
    rows = [r for r in log_history if "reward" in r]
    if not rows:
        raise ValueError("training logged no reward: no step ran")
    table = pd.DataFrame(rows)
    first = ["step", "reward", "reward_std", "frac_reward_zero_std", LEARNABLE_METRIC]
    return table[first + [c for c in table.columns if c not in first]]


def export_step_adapters(out_dir: str | Path, steps: list[int], cfg: TrainConfig) -> None:
    """Copy the adapter of the checkpoint at each listed global step to
    out_dir/steps/<step>/adapter, for the accuracy-vs-steps evaluation (with a curriculum
    the step is found in its level's checkpoint folder). Each is assembled in a temp
    folder and renamed, so an interrupted export never leaves a folder that looks complete."""
    run = RunPaths(str(out_dir))
    for step in steps:
        level, local = checkpoint_of_step(step, cfg.level_steps())
        source = Path(run.level_checkpoints(level, bool(cfg.curriculum))) / f"checkpoint-{local}"
        if not (source / "adapter_config.json").exists():
            raise FileNotFoundError(
                f"{source}: no adapter saved at step {step} (evaluate.every_steps must "
                f"fall on train.save_steps checkpoints; delete the run folder and rerun)"
            )
        with atomic_dir(run.step_adapter_dir(step)) as tmp:
            tmp.mkdir()
            for file in sorted(source.glob("adapter_*")):
                shutil.copy2(file, tmp / file.name)
