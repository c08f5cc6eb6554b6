"""Train: GRPO with a LoRA adapter (TRL GRPOTrainer + PEFT) on one subset, one seed."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import torch

from . import tasks
from .files import stable_hash, write_json, write_table
from .generation import device_and_dtype, load_tokenizer, newline_token_ids

SUPPORTED_TRL = "1.16.0"


def score_completion_tokens_only() -> None:
    """Make TRL 1.16 score only completion positions on CPU.

    TRL's fused LM head (trl/trainer/utils.py, `_fused_forward`) sends only the
    completion positions through the vocabulary projection when `_use_triton(device)`
    is true, and every prompt/pad position otherwise, which on CPU makes a step ~4x
    slower for the same result. No config field selects the compact path, so the copy
    of `_use_triton` in trl.trainer.utils is overridden for CPU devices; the kernel
    module keeps its own copy and still uses its pure-torch code there.
    tests/test_train.py checks that gradients match the unpatched path.
    """
    import trl
    import trl.trainer.utils as trl_utils
    from trl.kernels.chunked_logprob import _use_triton

    if trl.__version__ != SUPPORTED_TRL:
        raise RuntimeError(f"score_completion_tokens_only was checked against trl {SUPPORTED_TRL}, "
                           f"found {trl.__version__}: re-check trl/trainer/utils.py _fused_forward")
    trl_utils._use_triton = lambda device: device.type == "cpu" or _use_triton(device)


def correctness_reward(fmt: str):
    """Reward 1.0 for a correct final answer (task scorer), else 0.0."""

    def correctness(prompts, completions, gold, answer_type, **_):
        return [float(tasks.score(c, g, t, fmt)[0]) for c, g, t in zip(completions, gold, answer_type)]

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


def reward_functions(cfg: dict, fmt: str) -> tuple[list, list[float]]:
    """The reward callables with non-zero weight, and their weights (TRL `reward_weights`).
    TRL logs each one as rewards/<name>/mean and /std."""
    weights = cfg["rewards"]
    made = dict(correctness=correctness_reward(fmt), format=format_reward(fmt),
                length=length_penalty(cfg["max_completion_length"]))
    chosen = [(made[name], float(w)) for name, w in weights.items() if w]
    if not chosen:
        raise ValueError("train.rewards: every weight is 0; no reward to learn from")
    return [f for f, _ in chosen], [w for _, w in chosen]


def grpo_config(cfg: dict, output_dir: str, seed: int, reward_weights: list[float]):
    from trl import GRPOConfig

    device, dtype = device_and_dtype(cfg.get("dtype", "auto"))
    return GRPOConfig(
        output_dir=output_dir, seed=seed, data_seed=seed, max_steps=cfg["steps"],
        learning_rate=cfg["learning_rate"], lr_scheduler_type=cfg["lr_scheduler"],
        warmup_steps=cfg.get("warmup_steps", 0), weight_decay=cfg.get("weight_decay", 0.0),
        max_grad_norm=cfg.get("max_grad_norm", 1.0),
        per_device_train_batch_size=cfg["prompts_per_step"] * cfg["num_generations"],
        gradient_accumulation_steps=cfg.get("gradient_accumulation_steps", 1),
        num_generations=cfg["num_generations"], max_completion_length=cfg["max_completion_length"],
        temperature=cfg["temperature"], top_p=cfg.get("top_p", 1.0),
        beta=cfg["beta"], loss_type=cfg["loss_type"], scale_rewards=cfg["scale_rewards"],
        epsilon=cfg["epsilon"], epsilon_high=cfg.get("epsilon_high"),
        mask_truncated_completions=cfg.get("mask_truncated_completions", False),
        bf16=dtype == torch.bfloat16, use_cpu=device == "cpu",
        gradient_checkpointing=cfg.get("gradient_checkpointing", False),
        reward_weights=reward_weights,
        logging_steps=1, save_steps=cfg["save_steps"], save_strategy="steps",
        report_to="none", disable_tqdm=False,
    )


def _last_checkpoint(ckpt_dir: Path) -> str | None:
    found = sorted(ckpt_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    complete = [p for p in found if (p / "trainer_state.json").exists()]
    return str(complete[-1]) if complete else None


def train_adapter(model_ref: str, subset: pd.DataFrame, prompt: dict, cfg: dict, seed: int,
                  out_dir: str | Path) -> dict:
    """Train one adapter; writes out_dir/{adapter/, metrics.csv, train_info.json}.

    Checkpoints go to out_dir/checkpoints every `save_steps`; a rerun with the same
    settings resumes from the last complete one, a rerun with other settings starts over.
    """
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import GRPOTrainer

    score_completion_tokens_only()
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
    fingerprint = stable_hash([model_ref, subset["id"].tolist(), prompt, cfg, seed])
    stamp = ckpt_dir / "settings.hash"
    if ckpt_dir.exists() and (not stamp.exists() or stamp.read_text() != fingerprint):
        shutil.rmtree(ckpt_dir)  # checkpoints of other settings must not be resumed
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint)

    tokenizer = load_tokenizer(model_ref)
    _, dtype = device_and_dtype(cfg.get("dtype", "auto"))
    model = AutoModelForCausalLM.from_pretrained(model_ref, dtype=dtype)
    if "\n" in tasks.stop_strings(prompt):
        # TRL's generate() takes no stop strings; newline tokens as end-of-sequence ids make
        # one-line answers stop and count as terminated (not truncated) completions.
        model.generation_config.eos_token_id = [tokenizer.eos_token_id, *newline_token_ids(tokenizer)]
    model.generation_config.pad_token_id = tokenizer.pad_token_id

    data = Dataset.from_pandas(pd.DataFrame(dict(
        prompt=[tasks.render_prompt(q, prompt, tokenizer) for q in subset["question"]],
        gold=subset["gold"].astype(str).tolist(), answer_type=subset["answer_type"].tolist())))
    lora = cfg["lora"]
    rewards, weights = reward_functions(cfg, prompt["format"])
    trainer = GRPOTrainer(
        model=model, reward_funcs=rewards, train_dataset=data,
        args=grpo_config(cfg, str(ckpt_dir), seed, weights), processing_class=tokenizer,
        peft_config=LoraConfig(r=lora["r"], lora_alpha=lora["alpha"], lora_dropout=lora["dropout"],
                               target_modules=lora["target_modules"], task_type="CAUSAL_LM"),
    )
    started = time.time()
    resume = _last_checkpoint(ckpt_dir)
    print(f"resuming from {resume}" if resume else "no checkpoint of these settings: training from step 0")
    trainer.train(resume_from_checkpoint=resume)
    wall = time.time() - started

    metrics = metrics_table(trainer.state.log_history)
    adapter_tmp = out_dir / "adapter.tmp"
    shutil.rmtree(adapter_tmp, ignore_errors=True)
    trainer.model.save_pretrained(adapter_tmp)
    shutil.rmtree(out_dir / "adapter", ignore_errors=True)
    adapter_tmp.rename(out_dir / "adapter")
    write_table(metrics, out_dir / "metrics.csv")
    info = dict(steps=int(trainer.state.global_step), wall_seconds=round(wall, 1),
                learnable_pct=learnable_pct(metrics), n_problems=len(subset), seed=seed)
    write_json(info, out_dir / "train_info.json")
    return info


def metrics_table(log_history: list[dict]) -> pd.DataFrame:
    """Per-step rows of TRL's log history (reward, reward_std, frac_reward_zero_std, ...)."""
    rows = [r for r in log_history if "reward" in r]
    if not rows:
        raise ValueError("training logged no reward: no step ran")
    table = pd.DataFrame(rows)
    first = ["step", "reward", "reward_std", "frac_reward_zero_std"]
    return table[first + [c for c in table.columns if c not in first]]


def learnable_pct(metrics: pd.DataFrame) -> float:
    """Share of groups with differing rewards (the only ones GRPO learns from), in %."""
    return round(100.0 * (1.0 - float(metrics["frac_reward_zero_std"].mean())), 2)
