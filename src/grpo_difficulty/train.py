"""Train: GRPO with a LoRA adapter (TRL GRPOTrainer + PEFT) on one subset, one seed."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from . import parallel, tasks
from .config.layout import RunPaths
from .config.sections import LEVEL_SETTINGS, PromptConfig, QuantizationConfig, TrainConfig, as_dict
from .files import atomic_dir, checkpoint_of_step, stable_hash, write_json, write_table
from .generation.models import clear_generation_config, load_base_model, load_tokenizer, newline_token_ids
from .generation.vllm import VLLMGenerator
from .trainer.arguments import grpo_config
from .trainer.checkpoints import guard_settings, last_checkpoint, level_checkpoint_dirs
from .trainer.grpo import grpo_trainer_class, score_completion_tokens_only
from .trainer.learnable import LEARNABLE_METRIC, learnable_base_pct, learnable_pct, learnable_total_pct
from .trainer.preemption import StopOnSigterm, preemption_note
from .trainer.rewards import reward_functions
from .trainer.tracking import Tracking, tracked
from .trainer.vllm_rollouts import adapter_sync, rollout_arguments, rollout_engine


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
    model_ref: str,
    subset: pd.DataFrame,
    prompt: PromptConfig,
    cfg: TrainConfig,
    seed: int,
    out_dir: str | Path,
    scorer: tasks.PluginScorer | None = None,
    quantization: QuantizationConfig | None = None,
    tracking: Tracking | None = None,
) -> dict:
    """Train one adapter; writes out_dir/{adapter/, metrics.csv, train_info.json}. With a
    `quantization`, the base loads in bitsandbytes 4-/8-bit weights (QLoRA); `tracking`
    names the experiment trackers each level reports to (a level's own run with a curriculum).

    Levels (TrainConfig.levels) train one after the other on the same adapter, each a TRL
    run of its own (own steps, completion length, clip range, optimizer and learning-rate
    schedule) that starts from the adapter the level before saved. A level's checkpoints,
    every `save_steps`, and its finished adapter, metrics and level_info.json go to its
    checkpoint folder; a rerun skips finished levels and resumes the unfinished one from
    its last checkpoint. Each level's settings hash covers the levels up to it, so an edit
    of a later level keeps the earlier ones, and any other edit (or process count) starts
    over (a plugin `scorer`'s reference and a `quantization` count too). In a data-parallel
    run every process calls this; the main one writes the files.
    """
    score_completion_tokens_only()
    run = RunPaths(str(out_dir))
    levels = cfg.levels()
    level_dirs = level_checkpoint_dirs(run, len(levels), bool(cfg.curriculum))
    # settings of every level (each level carries its own steps and LEVEL_SETTINGS);
    # shared_prompt changes how fast, not what is computed: its checkpoints are resumed either way
    fingerprinted = {
        k: v
        for k, v in as_dict(cfg).items()
        if k not in ("seeds", "curriculum", "steps", "shared_prompt", "report_to", *LEVEL_SETTINGS)
    }
    level_rows = _level_rows(subset, levels)
    tokenizer = load_tokenizer(model_ref)
    start_adapter, tables, infos = None, [], []
    with rollout_engine(model_ref, cfg) as engine:  # one for every level (trainer/vllm_rollouts.py)
        for i, (level, level_dir, rows) in enumerate(zip(levels, level_dirs, level_rows, strict=True)):
            if parallel.is_main_process():
                settings = [model_ref, subset["id"].tolist(), as_dict(prompt), fingerprinted, levels[: i + 1], seed]
                # neither plugin nor quantization: the settings hashes stay as they were
                plugin = [scorer.reference] if scorer else []
                quantized = [as_dict(quantization)] if quantization is not None and quantization.enabled else []
                guard_settings(level_dir, stable_hash([*settings, parallel.world_size(), *plugin, *quantized]))
            parallel.wait_for_everyone()
            if (level_dir / "level_info.json").exists():
                print(f"level {i}: finished earlier, kept")
            else:
                level_cfg = dataclasses.replace(
                    cfg, curriculum=None, **{k: v for k, v in level.items() if k != "tiers"}
                )
                train_level(
                    model_ref,
                    tokenizer,
                    rows,
                    prompt,
                    level_cfg,
                    seed,
                    level_dir,
                    start_adapter,
                    (seed, i),
                    scorer,
                    engine,
                    quantization,
                    tracking.level(i) if tracking and cfg.curriculum else tracking,
                )
            start_adapter = level_dir / "adapter"
            info = json.loads((level_dir / "level_info.json").read_text())
            table = pd.read_csv(level_dir / "metrics.csv")
            table.insert(1, "level", i)
            table["step"] += sum(done["steps"] for done in infos)
            tables.append(table)
            infos.append(dict(info, tiers=level["tiers"]))

    return _finish_run(run, start_adapter, tables, infos, dict(n_problems=len(subset), seed=seed), bool(cfg.curriculum))


def _finish_run(run: RunPaths, adapter: Path, tables: list, infos: list, extra: dict, curriculum: bool) -> dict:
    """Write the run's adapter (the last level's), metrics and train_info; return the info."""
    metrics = pd.concat(tables, ignore_index=True)
    info = dict(
        steps=sum(done["steps"] for done in infos),
        wall_seconds=round(sum(done["wall_seconds"] for done in infos), 1),
        learnable_pct=learnable_pct(metrics),
        learnable_total_pct=learnable_total_pct(metrics),
        learnable_base_pct=learnable_base_pct(metrics),
        **extra,
    )
    if curriculum:
        info["levels"] = infos
    if parallel.is_main_process():
        with atomic_dir(run.adapter_dir) as tmp:
            shutil.copytree(adapter, tmp)
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
    scorer: tasks.PluginScorer | None = None,
    engine: Callable[[], VLLMGenerator] | None = None,
    quantization: QuantizationConfig | None = None,
    tracking: Tracking | None = None,
):
    """TRL GRPOTrainer (grpo_trainer_class: shared-prompt passes when train.shared_prompt,
    dynamic sampling when train.dynamic_sampling.enabled, rollouts by `engine()` with
    train.generation.sync: adapter) and a fresh LoRA adapter on the
    model, for the problems in `rows`; a plugin `scorer` makes the correctness reward and
    sees each row's fields (column record).

    A quantized base (QLoRA) is loaded as the probe and evaluation load it
    (generation.models.load_base_model) and handed to TRL as it is: TRL freezes it under
    the adapter and keeps the adapter's weights in bfloat16 (the QLoRA recipe). PEFT's
    prepare_model_for_kbit_training, which TRL no longer calls, is not applied either: it
    would cast the norms and embeddings to float32, another model than the probed one."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import set_seed

    # the run's engine (started at the first level) before the seed: the new adapter's
    # initial weights depend on the seed only, not on what ran before
    rollouts = rollout_arguments(cfg, engine)
    set_seed(seed)
    model = load_base_model(model_ref, cfg.dtype, quantization)
    stop_ids = newline_token_ids(tokenizer) if "\n" in tasks.stop_strings(prompt) else []
    # TRL's generate() takes no stop strings; newline tokens as end-of-sequence ids make
    # one-line answers stop and count as terminated (not truncated) completions. TRL's
    # rollouts then sample with GRPOConfig's settings and nothing of the model's own.
    clear_generation_config(model, tokenizer, stop_ids)

    columns = dict(
        prompt=[tasks.render_prompt(q, prompt, tokenizer) for q in rows["question"]],
        gold=rows["gold"].astype(str).tolist(),
        answer_type=rows["answer_type"].tolist(),
    )
    if scorer:
        columns.update(id=rows["id"].tolist(), record=plugin_records(rows))
    data = Dataset.from_pandas(pd.DataFrame(columns))
    lora = cfg.lora
    rewards, weights = reward_functions(cfg, prompt.format, scorer)
    dynamic = cfg.dynamic_sampling
    trainer_class = grpo_trainer_class(cfg.shared_prompt, dynamic.enabled, adapter_sync(cfg))
    extra = {}
    if dynamic.enabled:
        extra = dict(max_extra_rounds=dynamic.max_extra_rounds, draw_seed=[s % 2**32 for s in draw_seed])
    return trainer_class(
        model=model,
        reward_funcs=rewards,
        train_dataset=data,
        args=grpo_config(cfg, str(output_dir), seed, weights, stop_ids, tracking),
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules,
            task_type="CAUSAL_LM",
        ),
        base_check=cfg.base_check,
        **extra,
        **rollouts,
    )


def plugin_records(rows: pd.DataFrame) -> list[str]:
    """Each row's fields as its plugin scorer sees them (tasks.plugins.row_fields), as JSON."""
    return [tasks.record_json(tasks.row_fields(row)) for row in rows.to_dict("records")]


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
    scorer: tasks.PluginScorer | None = None,
    engine: Callable[[], VLLMGenerator] | None = None,
    quantization: QuantizationConfig | None = None,
    tracking: Tracking | None = None,
) -> None:
    """One TRL run on `rows`, starting from `start_adapter`'s weights (None: a new adapter),
    resumed from level_dir's last checkpoint if there is one; writes level_dir/{adapter/,
    metrics.csv, level_info.json}, level_info.json last (it marks the level finished)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    # the trackers' integrations read their environment when the trainer is built and when training starts
    with tracked(tracking):
        trainer = build_trainer(
            model_ref, tokenizer, rows, prompt, cfg, seed, level_dir, draw_seed, scorer, engine, quantization, tracking
        )
        if start_adapter is not None:
            # Loaded into TRL's new adapter rather than passed as a PeftModel: TRL then keeps
            # the base model (adapter disabled) as the KL reference for beta > 0 at every level.
            loaded = set_peft_model_state_dict(trainer.model, load_file(start_adapter / "adapter_model.safetensors"))
            if loaded.unexpected_keys:
                raise RuntimeError(f"{start_adapter}: weights that fit no LoRA module: {loaded.unexpected_keys[:3]}")
        started = time.time()
        resume = last_checkpoint(level_dir)
        print(
            f"resuming from {resume}{preemption_note(resume)}"
            if resume
            else "no checkpoint of these settings: training from step 0"
        )
        with StopOnSigterm() as stop:  # SIGTERM: a checkpoint at the end of this step, then exit 75
            trainer.add_callback(stop)
            trainer.train(resume_from_checkpoint=resume)
    stop.exit_if_stopped(trainer.state, level_dir)
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
