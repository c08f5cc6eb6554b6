"""GRPO+LoRA training on the tiny model (the TRL overrides themselves: tests/test_grpo_trainer.py)."""

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import FEWSHOT, fit_tiny_llama, new_tiny_llama, train_config
from safetensors.torch import load_file

from grpo_difficulty import tasks, train
from grpo_difficulty.trainer import arguments, rewards
from grpo_difficulty.trainer.base_check import BASE_METRIC
from grpo_difficulty.trainer.learnable import LEARNABLE_METRIC, groups_differ, learnable_pct, learnable_total_pct

TRAIN_CFG = dict(
    steps=3,
    learning_rate=1e-3,
    lr_scheduler="constant",
    prompts_per_step=1,
    num_generations=4,
    max_completion_length=6,
    temperature=1.0,
    beta=0.0,
    loss_type="dapo",
    scale_rewards="group",
    epsilon=0.2,
    save_steps=2,
    rewards=dict(correctness=1.0, format=0.5, length=0.1),
    lora=dict(r=4, alpha=8, dropout=0.0, target_modules="all-linear"),
)


@pytest.fixture(scope="module")
def subset():
    return tasks.arithmetic_rows([1, 2], {"train": 4}, "train", 0)


def test_train_adapter_writes_adapter_metrics_and_info(tiny_model, subset, fewshot_prompt, tmp_path, monkeypatch):
    import trl.trainer.utils as trl_utils
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(trl_utils, "_use_triton", trl_utils._use_triton)
    info = train.train_adapter(tiny_model, subset, fewshot_prompt, train_config(TRAIN_CFG), seed=0, out_dir=tmp_path)
    assert info["steps"] == 3 and info["n_problems"] == len(subset)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert metrics["step"].tolist() == [1, 2, 3]
    for column in [
        "reward",
        "reward_std",
        "frac_reward_zero_std",
        "rewards/correctness/mean",
        "rewards/format/mean",
        "rewards/length/mean",
    ]:
        assert metrics[column].notna().all(), column
    assert (metrics["rewards/length/mean"] < 0).all() and metrics["rewards/format/mean"].between(0, 1).all()
    assert info["learnable_pct"] == pytest.approx(100 * metrics[LEARNABLE_METRIC].mean(), abs=0.01)
    assert info["learnable_total_pct"] == pytest.approx(100 * (1 - metrics["frac_reward_zero_std"].mean()), abs=0.01)
    assert json.loads((tmp_path / "train_info.json").read_text())["steps"] == 3
    assert (tmp_path / "checkpoints" / "checkpoint-2" / "trainer_state.json").exists()
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), tmp_path / "adapter")
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # the adapter was trained


def test_checkpoints_of_other_settings_are_not_resumed(tiny_model, subset, fewshot_prompt, tmp_path, monkeypatch):
    import trl.trainer.utils as trl_utils

    monkeypatch.setattr(trl_utils, "_use_triton", trl_utils._use_triton)
    cfg = dict(TRAIN_CFG, steps=2)
    train.train_adapter(tiny_model, subset, fewshot_prompt, train_config(cfg), seed=0, out_dir=tmp_path)
    stale = tmp_path / "checkpoints" / "checkpoint-2"
    assert stale.exists()
    info = train.train_adapter(
        tiny_model, subset, fewshot_prompt, train_config(dict(cfg, learning_rate=5e-4)), seed=0, out_dir=tmp_path
    )
    assert info["steps"] == 2
    log = json.loads((stale / "trainer_state.json").read_text())
    assert log["log_history"][0]["learning_rate"] == pytest.approx(5e-4)  # retrained, not resumed


# Two groups of G=8 per step, correctness only (0/1): a group whose rewards all agree has
# advantages exactly 0, one whose rewards differ has none that is 0.
DYNAMIC_CFG = dict(
    TRAIN_CFG, steps=4, prompts_per_step=2, num_generations=8, save_steps=2, rewards=dict(correctness=1.0)
)
DYNAMIC_ON = dict(enabled=True, max_extra_rounds=6)


@pytest.fixture
def loss_inputs(monkeypatch):
    """What the loss sees, per compute_loss call (TRL's compute_loss still runs): the step,
    each group's advantages (rows told apart by their prompt), each group's question, the
    completion width, the trainer's length and clip settings, and the adapter's |lora_B| sum."""
    import trl.trainer.utils as trl_utils
    from trl import GRPOTrainer

    monkeypatch.setattr(trl_utils, "_use_triton", trl_utils._use_triton)
    seen = []
    compute_loss = GRPOTrainer.compute_loss

    def recording(self, model, inputs, *args, **kwargs):
        groups = {}
        for ids, mask, advantage in zip(
            inputs["prompt_ids"], inputs["prompt_mask"], inputs["advantages"].tolist(), strict=True
        ):
            groups.setdefault(tuple(ids[mask.bool()].tolist()), []).append(advantage)
        texts = [self.processing_class.decode(list(ids), skip_special_tokens=True) for ids in groups]
        seen.append(
            dict(
                step=self.state.global_step,
                groups=list(groups.values()),
                questions=[text.rsplit("Q: ", 1)[1].removesuffix("\nA:") for text in texts],
                completion_width=inputs["completion_ids"].shape[1],
                max_completion_length=self.max_completion_length,
                epsilon=(self.epsilon_low, self.epsilon_high),
                lora_b=sum(float(p.detach().abs().sum()) for n, p in model.named_parameters() if "lora_B" in n),
            )
        )
        return compute_loss(self, model, inputs, *args, **kwargs)

    monkeypatch.setattr(GRPOTrainer, "compute_loss", recording)
    return seen


@pytest.fixture(scope="module")
def mixed_subset(subset):
    """The subset's problems, which the fitted tiny model answers right now and then (pass
    rates 0.1-0.5 at temperature 1), and four it never answers right (two-digit sums and
    differences: 0 of 32 samples): groups with and without reward variance both occur."""
    return pd.concat([subset, tasks.arithmetic_rows([5, 6], {"train": 2}, "train", 0)], ignore_index=True)


def test_dynamic_sampling_leaves_the_loss_only_groups_with_reward_variance(
    fitted_tiny_model, mixed_subset, fewshot_prompt, tmp_path, loss_inputs
):
    # the fitted model: the 40-step one answers almost nothing right under the strict scorer,
    # so extra rounds find no group with variance and the run ends at max_extra_rounds
    model, subset = fitted_tiny_model, mixed_subset
    train.train_adapter(model, subset, fewshot_prompt, train_config(DYNAMIC_CFG), seed=0, out_dir=tmp_path / "off")
    off = [record["groups"] for record in loss_inputs]
    assert any(all(a == 0 for a in group) for groups in off for group in groups)  # zero-variance groups occur

    loss_inputs.clear()
    train.train_adapter(
        model,
        subset,
        fewshot_prompt,
        train_config(dict(DYNAMIC_CFG, dynamic_sampling=DYNAMIC_ON)),
        seed=0,
        out_dir=tmp_path / "on",
    )
    assert [record["step"] for record in loss_inputs] == [0, 1, 2, 3]  # one loss call per optimizer step
    for record in loss_inputs:
        groups = record["groups"]
        assert sorted(len(g) for g in groups) == [8, 8], record  # two whole groups of distinct prompts
        assert all(any(a != 0 for a in group) for group in groups), record
    metrics = pd.read_csv(tmp_path / "on" / "metrics.csv")
    dropped, rounds, unfilled = (
        metrics[f"dynamic_sampling/{c}"] for c in ("dropped_groups", "extra_rounds", "unfilled_groups")
    )
    assert dropped.sum() > 0 and (unfilled == 0).all()
    assert ((rounds == 0) == (dropped == 0)).all()  # extra rounds ran exactly when groups were dropped
    assert (dropped <= 2 * rounds).all() and (rounds <= DYNAMIC_ON["max_extra_rounds"]).all()


def test_dynamic_sampling_resumes_like_an_uninterrupted_run(
    tiny_model, subset, fewshot_prompt, tmp_path, loss_inputs, capsys
):
    """The prompts of extra rounds depend on (seed, step, round) only, so a run resumed from
    its step-2 checkpoint trains the same adapter as the run that was not interrupted."""
    cfg = dict(DYNAMIC_CFG, dynamic_sampling=DYNAMIC_ON)
    train.train_adapter(tiny_model, subset, fewshot_prompt, train_config(cfg), seed=0, out_dir=tmp_path)
    uninterrupted = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    # as if killed during steps 3-4: no step-4 checkpoint, no finished level
    forget(tmp_path / "checkpoints", "checkpoint-4", "adapter", "metrics.csv", "level_info.json")
    train.train_adapter(tiny_model, subset, fewshot_prompt, train_config(cfg), seed=0, out_dir=tmp_path)
    assert re.search(r"resuming from \S*checkpoint-2\n", capsys.readouterr().out)
    resumed = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=1e-4, atol=1e-6)
    same = [
        "step",
        "reward",
        "frac_reward_zero_std",
        "dynamic_sampling/dropped_groups",
        "dynamic_sampling/extra_rounds",
    ]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "metrics.csv")[same], metrics[same])


CURRICULUM_CFG = dict(
    TRAIN_CFG,
    steps=6,
    curriculum=[
        dict(tiers=[1], steps=2, max_completion_length=4, epsilon=0.1),
        dict(tiers=[2], steps=4, epsilon_high=0.3),
    ],
)


def test_curriculum_trains_its_levels_in_order_on_one_adapter(
    tiny_model, subset, fewshot_prompt, tmp_path, loss_inputs
):
    info = train.train_adapter(
        tiny_model, subset, fewshot_prompt, train_config(CURRICULUM_CFG), seed=0, out_dir=tmp_path
    )
    assert info["steps"] == 6
    assert [(level["tiers"], level["steps"], level["n_problems"]) for level in info["levels"]] == [
        ([1], 2, 4),
        ([2], 4, 4),
    ]
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert metrics["level"].tolist() == [0, 0, 1, 1, 1, 1] and metrics["step"].tolist() == [1, 2, 3, 4, 5, 6]
    assert info["learnable_pct"] == pytest.approx(100 * metrics[LEARNABLE_METRIC].mean(), abs=0.01)

    levels = [0, 0, 1, 1, 1, 1]
    assert [record["step"] for record in loss_inputs] == [0, 1, 0, 1, 2, 3]  # each level is a TRL run of its own
    settings = {0: (4, (0.1, 0.1)), 1: (6, (0.2, 0.3))}  # level 1 takes train's completion length and epsilon
    for level, record in zip(levels, loss_inputs, strict=True):
        assert (record["max_completion_length"], record["epsilon"]) == settings[level]
        assert record["completion_width"] <= settings[level][0]
        tier = CURRICULUM_CFG["curriculum"][level]["tiers"][0]
        assert set(record["questions"]) <= set(subset.loc[subset["tier"] == tier, "question"]), record
    # one shared adapter: level 1 starts from the weights level 0 saved, not from a new adapter
    level0 = load_file(tmp_path / "checkpoints" / "level0" / "adapter" / "adapter_model.safetensors")
    level0_b = sum(float(t.abs().sum()) for name, t in level0.items() if "lora_B" in name)
    assert loss_inputs[0]["lora_b"] == 0 and level0_b > 0
    assert loss_inputs[2]["lora_b"] == pytest.approx(level0_b, rel=1e-5)
    final = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    level1 = load_file(tmp_path / "checkpoints" / "level1" / "adapter" / "adapter_model.safetensors")
    assert all(torch.equal(final[name], level1[name]) for name in final)


def forget(folder, *names):
    """Remove what a job killed at that point would not have written."""
    for name in names:
        path = folder / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def test_curriculum_resumes_mid_level_and_at_a_level_boundary(
    tiny_model, subset, fewshot_prompt, tmp_path, loss_inputs, capsys
):
    train.train_adapter(tiny_model, subset, fewshot_prompt, train_config(CURRICULUM_CFG), seed=0, out_dir=tmp_path)
    uninterrupted = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    rewards = pd.read_csv(tmp_path / "metrics.csv")["reward"]
    level1 = tmp_path / "checkpoints" / "level1"
    kills = {
        "killed in level 1 after its step-2 checkpoint": (
            lambda: forget(level1, "checkpoint-4", "adapter", "metrics.csv", "level_info.json"),
            r"resuming from \S*level1/checkpoint-2\n",
        ),
        "killed right after level 0 finished": (
            lambda: shutil.rmtree(level1),
            r"level 0: finished earlier, kept\n[\s\S]*no checkpoint of these settings",
        ),
    }
    for kill, (lose, log) in kills.items():
        lose()
        capsys.readouterr()
        train.train_adapter(tiny_model, subset, fewshot_prompt, train_config(CURRICULUM_CFG), seed=0, out_dir=tmp_path)
        assert re.search(log, capsys.readouterr().out), kill
        resumed = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
        for name, tensor in uninterrupted.items():
            torch.testing.assert_close(resumed[name], tensor, rtol=1e-4, atol=1e-6, msg=kill)
        assert pd.read_csv(tmp_path / "metrics.csv")["reward"].tolist() == rewards.tolist(), kill

    # editing the last level keeps the first one
    shorter = dict(CURRICULUM_CFG, steps=4, curriculum=[CURRICULUM_CFG["curriculum"][0], dict(tiers=[2], steps=2)])
    info = train.train_adapter(tiny_model, subset, fewshot_prompt, train_config(shorter), seed=0, out_dir=tmp_path)
    assert "level 0: finished earlier, kept" in capsys.readouterr().out and info["steps"] == 4


def test_a_level_without_problems_is_named(tiny_model, subset, fewshot_prompt, tmp_path):
    cfg = dict(TRAIN_CFG, steps=None, curriculum=[dict(tiers=[1], steps=1), dict(tiers=[4], steps=1)])
    with pytest.raises(
        ValueError, match=r"train.curriculum\[1\].tiers=\[4\]: the training subset has no problem .*\[1, 2\]"
    ):
        train.train_adapter(tiny_model, subset, fewshot_prompt, train_config(cfg), seed=0, out_dir=tmp_path)


def test_loss_variants_reach_trl(tiny_model, subset, fewshot_prompt, tmp_path):
    """The config's loss options arrive unchanged in TRL's GRPOConfig and trainer."""
    from grpo_difficulty.generation.models import load_tokenizer

    variants = dict(
        loss_type="bnpo",
        scale_rewards="batch",
        epsilon=0.15,
        epsilon_high=0.28,
        beta=0.04,
        mask_truncated_completions=True,
    )
    trainer = train.build_trainer(
        tiny_model,
        load_tokenizer(tiny_model),
        subset,
        fewshot_prompt,
        train_config(dict(TRAIN_CFG, **variants)),
        seed=0,
        output_dir=tmp_path,
    )
    for key, value in variants.items():
        assert getattr(trainer.args, key) == value, key
    assert (
        trainer.loss_type,
        trainer.scale_rewards,
        trainer.epsilon_low,
        trainer.epsilon_high,
        trainer.beta,
        trainer.mask_truncated_completions,
    ) == ("bnpo", "batch", 0.15, 0.28, 0.04, True)
    assert trainer.reward_func_names == ["correctness", "format", "length"]


def test_reward_functions_and_weights():
    funcs, weights = rewards.reward_functions(
        train_config(dict(max_completion_length=4, rewards=dict(correctness=1.0, format=0.0, length=0.5))), "boxed"
    )
    assert [f.__name__ for f in funcs] == ["correctness", "length"] and weights == [1.0, 0.5]
    completions = ["so \\boxed{7}", "seven"]
    assert funcs[0]([None] * 2, completions, gold=["7", "7"], answer_type=["integer"] * 2) == [1.0, 0.0]
    assert funcs[1]([None] * 2, completions, completion_ids=[[1, 2], [1, 2, 3, 4]]) == [-0.5, -1.0]
    assert rewards.format_reward("boxed")([None] * 2, completions) == [1.0, 0.0]
    with pytest.raises(ValueError, match="every weight is 0"):
        rewards.reward_functions(train_config(dict(max_completion_length=4, rewards=dict(correctness=0))), "boxed")


def test_learnable_pct():
    metrics = pd.DataFrame(
        {"step": [1, 2, 3, 4], "frac_reward_zero_std": [1.0, 0.0, 0.5, 0.5], LEARNABLE_METRIC: [0.0, 0.5, 0.25, 0.25]}
    )
    assert learnable_total_pct(metrics) == 50.0 and learnable_pct(metrics) == 25.0
    with pytest.raises(ValueError, match=r"steps \[2\] logged no learnable/correctness"):
        learnable_pct(metrics.assign(**{LEARNABLE_METRIC: [0.0, None, 0.25, 0.25]}))


def test_groups_differ_by_their_own_rewards():
    nan = float("nan")
    rewards = torch.tensor([0, 0, 0, 1, 1, 1, 1, 1, nan, 0, 0, 0, nan, nan, nan, nan])
    assert groups_differ(rewards, 4).tolist() == [True, False, False, False]


@pytest.fixture(scope="module")
def format_only_model(tmp_path_factory):
    """A tiny model that answers the few-shot prompt with " 5" or with an empty line,
    about half the time each: against golds other than 5 every answer is wrong, and only
    the format reward (an answer on the first line) varies."""
    from grpo_difficulty.config.sections import PromptConfig, build

    fewshot = build(PromptConfig, json.loads(json.dumps(FEWSHOT)))
    questions = tasks.arithmetic_rows([1, 2], {"x": 8}, "x", 0)["question"]
    prompts = [tasks.render_prompt(q, fewshot) for q in questions]
    model, tokenizer = new_tiny_llama([p + " 5\n\n" for p in prompts])
    texts = [p + answer for p in prompts for answer in (" 5\n\n", "\n\n")]
    starts = [len(tokenizer(p)["input_ids"]) for p in prompts for _ in range(2)]
    return str(fit_tiny_llama(model, tokenizer, texts, 60, tmp_path_factory.mktemp("format_only"), starts))


@pytest.mark.parametrize("scale_rewards", ["group", "batch"])
def test_groups_that_differ_only_in_format_are_not_learnable(
    format_only_model, subset, fewshot_prompt, tmp_path, scale_rewards
):
    """Correctness is 0 in every group, the format reward varies: TRL's figure (over the
    total reward; with scale_rewards batch, over the batch) counts the groups, the
    learnable % of correctness does not."""
    wrong = subset.assign(gold="1000", answer_type="integer")
    cfg = dict(TRAIN_CFG, prompts_per_step=2, num_generations=8, scale_rewards=scale_rewards)
    cfg["rewards"] = dict(correctness=1.0, format=1.0)
    info = train.train_adapter(format_only_model, wrong, fewshot_prompt, train_config(cfg), seed=0, out_dir=tmp_path)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert (metrics["rewards/correctness/mean"] == 0).all()
    assert metrics["rewards/format/mean"].between(0.2, 0.8).all()  # both formats in every step
    assert (metrics[LEARNABLE_METRIC] == 0).all() and info["learnable_pct"] == 0
    assert info["learnable_total_pct"] > 50


# --------------------------------------------------------------------------- GRPOConfig
def test_memory_and_optimizer_settings_reach_trl(tmp_path):
    args = arguments.grpo_config(
        train_config(
            dict(TRAIN_CFG, optim="adamw_8bit", gradient_checkpointing=True, dtype="bfloat16", prompts_per_step=2)
        ),
        str(tmp_path),
        0,
        [1.0],
    )
    assert (args.optim, args.gradient_checkpointing, args.bf16) == ("adamw_8bit", True, True)
    assert args.per_device_train_batch_size == 8 and not args.use_vllm  # one process: the whole batch
    assert not arguments.grpo_config(train_config(TRAIN_CFG), str(tmp_path), 0, [1.0]).bf16  # auto on CPU: float32


VLLM = dict(
    backend="vllm",
    mode="colocate",
    gpu_memory_utilization=0.4,
    tensor_parallel_size=2,
    max_model_len=1024,
    enable_sleep_mode=True,
    server_timeout=60.0,
    sync="merged",
)


def test_vllm_rollouts_map_onto_trl_options(tmp_path, monkeypatch):
    """train.generation becomes GRPOConfig's vLLM options; the stop tokens of one-line
    answers reach vLLM's SamplingParams through generation_kwargs."""
    from grpo_difficulty import parallel

    args = arguments.grpo_config(
        train_config(dict(TRAIN_CFG, generation=VLLM)), str(tmp_path), 0, [1.0], stop_token_ids=[5, 9]
    )
    assert (
        args.use_vllm,
        args.vllm_mode,
        args.vllm_gpu_memory_utilization,
        args.vllm_tensor_parallel_size,
        args.vllm_max_model_length,
        args.vllm_enable_sleep_mode,
    ) == (True, "colocate", 0.4, 2, 1024, True)
    assert args.generation_kwargs == {"stop_token_ids": [5, 9]}

    server = dict(VLLM, mode="server")
    with pytest.raises(RuntimeError, match="no vLLM server was started for this process"):
        arguments.grpo_config(train_config(dict(TRAIN_CFG, generation=server)), str(tmp_path), 0, [1.0])
    monkeypatch.setenv(parallel.VLLM_SERVER_URL, "http://127.0.0.1:8123")
    monkeypatch.setenv(parallel.VLLM_GROUP_PORT, "8124")
    args = arguments.grpo_config(train_config(dict(TRAIN_CFG, generation=server)), str(tmp_path), 0, [1.0])
    assert (args.vllm_mode, args.vllm_server_base_url, args.vllm_group_port, args.vllm_server_timeout) == (
        "server",
        "http://127.0.0.1:8123",
        8124,
        60.0,
    )


# --------------------------------------------------------------------------- several processes
def train_job(model: str, subset_path, out_dir, **train_settings) -> dict:
    return dict(
        model=model,
        subset=str(subset_path),
        prompt=FEWSHOT,
        train=dict(TRAIN_CFG, **train_settings),
        seed=0,
        out_dir=str(out_dir),
        export_steps=[2],
        threads=1,
    )


@pytest.fixture
def subset_file(subset, tmp_path):
    from grpo_difficulty.files import write_table

    write_table(subset, tmp_path / "subset.parquet")
    return tmp_path / "subset.parquet"


def test_two_cpu_processes_keep_the_output_contract_and_resume(tiny_model, subset_file, tmp_path, capfd):
    """train_run.run with 2 processes (accelerate launch, gloo): the files of a 1-process
    run, written once by the main process; the global batch is split, not doubled; a run
    killed after its step-2 checkpoint resumes from it and trains the same adapter."""
    from grpo_difficulty.train_run import run

    one = tmp_path / "one"
    info = run(train_job(tiny_model, subset_file, one), processes=1, gpus=[])
    capfd.readouterr()
    two = tmp_path / "two"
    returned = run(train_job(tiny_model, subset_file, two), processes=2, gpus=[])
    log = capfd.readouterr().out
    assert "--multi_gpu --num_processes 2" in log and log.count("no checkpoint of these settings") == 2
    for rel in [
        "adapter/adapter_model.safetensors",
        "steps/2/adapter/adapter_model.safetensors",
        "checkpoints/checkpoint-2/rng_state_1.pth",
    ]:
        assert (two / rel).exists(), rel
    assert not list(two.rglob("*.tmp"))
    metrics = pd.read_csv(two / "metrics.csv")
    assert list(metrics.columns) == list(pd.read_csv(one / "metrics.csv").columns)
    assert metrics["step"].tolist() == [1, 2, 3]
    # 1 prompt x 4 generations per step, split: 2 completions per process
    state = json.loads((two / "checkpoints" / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["train_batch_size"] == 2
    saved = json.loads((two / "train_info.json").read_text())
    assert saved == returned and saved["steps"] == 3 and set(saved) == set(info)
    # groups of 4 split over the 2 processes: each counted once, from the gathered rewards
    assert saved["learnable_pct"] == pytest.approx(100 * metrics[LEARNABLE_METRIC].mean(), abs=0.01)
    assert metrics[LEARNABLE_METRIC].isin([0.0, 1.0]).all()
    # the base check: process 0 holds the group's first row and samples it as one process does
    assert metrics[BASE_METRIC].tolist() == pd.read_csv(one / "metrics.csv")[BASE_METRIC].tolist()
    assert metrics[BASE_METRIC].isin([0.0, 1.0]).all()

    uninterrupted = load_file(two / "adapter" / "adapter_model.safetensors")
    forget(two / "checkpoints", "checkpoint-3", "adapter", "metrics.csv", "level_info.json")
    run(train_job(tiny_model, subset_file, two), processes=2, gpus=[])
    assert len(re.findall(r"resuming from \S*checkpoint-2\n", capfd.readouterr().out)) == 2
    resumed = load_file(two / "adapter" / "adapter_model.safetensors")
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=1e-4, atol=1e-6)
    pd.testing.assert_frame_equal(pd.read_csv(two / "metrics.csv")[["step", "reward"]], metrics[["step", "reward"]])


def test_launch_command_starts_n_processes(tmp_path):
    from grpo_difficulty.train_run import launch_command

    command = launch_command(tmp_path / "job.json", 4, 3, 29555)
    assert command[1:3] == ["-m", "accelerate.commands.launch"] and "--multi_gpu" in command
    flags = dict(zip(command[3:], command[4:], strict=False))
    assert (flags["--num_processes"], flags["--num_cpu_threads_per_process"], flags["--main_process_port"]) == (
        "4",
        "3",
        "29555",
    )
    assert command[-3:] == ["-m", "grpo_difficulty.train_run", str(tmp_path / "job.json")]
    assert "--multi_gpu" not in launch_command(tmp_path / "job.json", 1, 3, 29555)


# Stands in for `vllm serve` where it cannot run (no GPU, no vLLM): answers /health and
# records how it was started.
STAND_IN_SERVER = """
import http.server, json, os, sys
record = dict(argv=sys.argv[1:], pid=os.getpid(), gpus=os.environ["CUDA_VISIBLE_DEVICES"],
              dev_mode=os.environ.get("VLLM_SERVER_DEV_MODE"))
open(os.environ["STAND_IN_RECORD"], "w").write(json.dumps(record))

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

http.server.HTTPServer(("127.0.0.1", int(sys.argv[sys.argv.index("--port") + 1])), Health).serve_forever()
"""


def test_server_mode_serves_on_its_own_gpus_and_stops_when_training_fails(
    tiny_model, subset_file, tmp_path, monkeypatch, capfd
):
    """The job's first GPU serves (TRL's `vllm serve` command line), training gets the
    others and the server's address; here training fails (TRL finds no vLLM to talk to
    it with), and the server is stopped all the same."""
    from grpo_difficulty import train_run

    real_command = train_run.vllm_server_command
    monkeypatch.setattr(
        train_run,
        "vllm_server_command",
        lambda *args: [sys.executable, "-c", STAND_IN_SERVER, *real_command(*args)[1:]],
    )
    record = tmp_path / "server.json"
    monkeypatch.setenv("STAND_IN_RECORD", str(record))
    job = train_job(
        tiny_model,
        subset_file,
        tmp_path / "run",
        dtype="bfloat16",
        generation=dict(VLLM, mode="server", tensor_parallel_size=1, max_model_len=512),
    )
    with pytest.raises(RuntimeError, match=r"the 1 training process\(es\) failed \(exit code 1\)"):
        train_run.run(job, processes=1, gpus=["0", "1"])
    log = capfd.readouterr()
    assert "vLLM server up at http://127.0.0.1:" in log.out
    assert "vLLM is not available" in log.err  # TRL's GRPOTrainer was asked to use the server
    server = json.loads(record.read_text())
    assert server["gpus"] == "0" and server["dev_mode"] == "1"
    args = dict(zip(server["argv"], server["argv"][1:], strict=False))
    assert server["argv"][2:4] == ["serve", tiny_model]
    assert (
        args["--tensor-parallel-size"],
        args["--gpu-memory-utilization"],
        args["--max-model-len"],
        args["--dtype"],
        args["--logprobs-mode"],
    ) == ("1", "0.4", "512", "bfloat16", "processed_logprobs")
    assert '{"backend": "nccl"}' in server["argv"]  # the weight-transfer engine TRL pushes weights through
    with pytest.raises(ProcessLookupError):
        os.kill(server["pid"], 0)


def test_a_server_that_dies_is_named(tmp_path):
    from grpo_difficulty.train_run import _process, wait_until_healthy

    with _process([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ)) as server:
        with pytest.raises(RuntimeError, match="the vLLM server exited with code 3 before answering"):
            wait_until_healthy(server, "http://127.0.0.1:9", timeout=60, poll_seconds=0.1)


def test_too_few_gpus_for_the_processes_are_named(tmp_path):
    from grpo_difficulty.train_run import run

    with pytest.raises(RuntimeError, match=r"holds GPU\(s\) \['0'\], but its 2 training process\(es\) and 0 vLLM"):
        run(dict(train=TRAIN_CFG, out_dir=str(tmp_path)), processes=2, gpus=["0"])


def test_two_processes_run_a_curriculum_with_gradient_checkpointing(tiny_model, subset_file, tmp_path):
    """Levels follow each other in both processes (the main one writes each level's files,
    the other waits and reads them); DDP with gradient checkpointing on LoRA weights."""
    from grpo_difficulty.train_run import run

    levels = [dict(tiers=[1], steps=2), dict(tiers=[2], steps=2, max_completion_length=4)]
    info = run(
        train_job(tiny_model, subset_file, tmp_path / "run", steps=4, curriculum=levels, gradient_checkpointing=True),
        processes=2,
        gpus=[],
    )
    assert [level["steps"] for level in info["levels"]] == [2, 2]
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert metrics["level"].tolist() == [0, 0, 1, 1] and metrics["step"].tolist() == [1, 2, 3, 4]
    assert (tmp_path / "run" / "checkpoints" / "level1" / "adapter" / "adapter_model.safetensors").exists()


def test_sigterm_saves_the_step_in_progress_and_the_rerun_resumes_from_it(tiny_model, tmp_path, capfd):
    """SIGTERM to a training job mid-run (what SLURM sends a preempted job): the step in
    progress finishes, a checkpoint of it is saved (off the save_steps grid) and the job exits
    with code 75; the rerun resumes from that checkpoint, recomputes no step, and trains the
    adapter of an uninterrupted run. Two problems, one a step: the rerun resumes in a later
    epoch, whose prompt order must be the uninterrupted run's (trainer/epoch_order.py)."""
    import signal
    import subprocess
    import time

    from grpo_difficulty.files import write_table
    from grpo_difficulty.train_run import SRC, run
    from grpo_difficulty.trainer.preemption import PREEMPTED_EXIT_CODE

    subset_file = tmp_path / "subset.parquet"
    write_table(tasks.arithmetic_rows([1, 2], {"train": 1}, "train", 0), subset_file)

    def job(out_dir):
        return dict(train_job(tiny_model, subset_file, out_dir, steps=6, save_steps=4), export_steps=[4])

    run(job(tmp_path / "uninterrupted"), processes=1, gpus=[])
    uninterrupted = load_file(tmp_path / "uninterrupted" / "adapter" / "adapter_model.safetensors")
    preempted = tmp_path / "preempted"
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(job(preempted)))
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "grpo_difficulty.train_run", str(spec)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        first = ""
        for line in proc.stdout:
            first += line
            if "'reward':" in line:  # step 1 is logged: the job is mid-run
                proc.send_signal(signal.SIGTERM)
                sent = time.time()
                break
        log = first + proc.stdout.read()
    assert proc.returncode == PREEMPTED_EXIT_CODE, log
    saved = re.search(r"preempted: stopped after step (\d+) of 6 and saved (\S+) \(([\d.]+) s after", log)
    assert saved, log
    step, checkpoint = int(saved[1]), Path(saved[2])
    assert checkpoint == preempted / "checkpoints" / f"checkpoint-{step}" and 1 <= step < 6
    assert (checkpoint / "trainer_state.json").exists() and not (preempted / "adapter").exists()
    logged = log.count("'reward':")  # steps the interrupted job ran: none after the checkpoint
    record = json.loads((checkpoint / "preemption.json").read_text())
    assert record["step"] == step and logged == step

    capfd.readouterr()
    run(job(preempted), processes=1, gpus=[])
    assert f"resuming from {checkpoint} (saved on SIGTERM at {record['signal_utc']}, after step {step})\n" in (
        capfd.readouterr().out
    )
    resumed = load_file(preempted / "adapter" / "adapter_model.safetensors")
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=1e-4, atol=1e-6)
    pd.testing.assert_frame_equal(
        pd.read_csv(preempted / "metrics.csv")[["step", "reward"]],
        pd.read_csv(tmp_path / "uninterrupted" / "metrics.csv")[["step", "reward"]],
    )
    print(  # the closing note's numbers
        f"signal sent at {time.strftime('%H:%M:%S', time.gmtime(sent))}, received at {record['signal_utc']}: "
        f"saved checkpoint-{step} "
        f"{saved[3]} s later; steps run before the exit {logged}, so {logged - step} recomputed"
    )
