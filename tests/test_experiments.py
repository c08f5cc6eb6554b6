"""The paper experiments in config/experiments/.

Full-scale configs (hub data, Qwen models, GPUs) are dry-run (`snakemake -n`): that
exercises config validation, the cross-key checks and the whole job graph (how many
training runs, adapter and checkpoint evaluations, the report), but not the data: the
hub cannot be reached here, so `prepare_data` (a checkpoint) is only planned, and the
probe jobs, whose number depends on the loaded dataset's size, are not yet in the plan.
The CPU sketches of each study run end to end, with the tiny test model in place of the
embedded one (same architecture family, seconds instead of minutes) and its few-shot
prompt; for hard-examples-cpu also the arithmetic levels the tiny model half-learned
(with the sketch's levels it answers almost nothing, so base_right would be empty).
"""

import copy

import pandas as pd
import pytest
import yaml
from conftest import FEWSHOT
from workflow_helpers import ROOT, planned_jobs, snakemake, write_config

EXPERIMENTS = ROOT / "config" / "experiments"


def load(name: str) -> dict:
    return yaml.safe_load((EXPERIMENTS / name).read_text())


def expected_plan(config: dict) -> dict:
    """Jobs a dry run plans before any data exists: every rule whose count the config
    alone fixes."""
    runs = len(config["subsets"]) * len(config["train"].get("seeds", [0]))
    every = config["evaluate"].get("every_steps")
    steps = len(range(every, config["train"]["steps"], every)) if every else 0
    evals = len(config["eval_sets"])
    plan = {
        "prepare_data": len(config["datasets"]),
        "prepare_model": 1,  # the embedded model converted, a hub model downloaded
        "check_disjoint": 1,
        "probe_merge": 1,
        "export_difficulty": 1,
        "select_subset": len(config["subsets"]),
        "check_selections": 1,
        "train_adapter": runs,
        "evaluate_base": evals,
        "evaluate_adapter": evals * runs,
        "report": 1,
    }
    if steps:
        plan["evaluate_step"] = evals * runs * steps
    return plan


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("hard-examples.yaml", {}),
        ("limits-of-difficulty.yaml", {}),
        ("limits-of-difficulty.yaml", {"model": "Qwen/Qwen2.5-1.5B-Instruct", "name": "limits-of-difficulty-1.5b"}),
        ("limits-of-difficulty.yaml", {"model": "Qwen/Qwen2.5-3B-Instruct", "name": "limits-of-difficulty-3b"}),
        ("limits-of-difficulty-gsm8k.yaml", {}),
        ("hard-examples.yaml", {"model_revision": "refs/pr/3"}),  # prepare_model downloads it
    ],
)
def test_paper_config_dry_run(tmp_path, name, overrides):
    config = load(name)
    config.update(overrides)  # what `--config model=... name=...` does, as the file's header says
    write_config(tmp_path, config)
    assert planned_jobs(tmp_path) == expected_plan(config)


def test_qlora_cpu_dry_run(tmp_path):
    """The 4-bit sketch: one NF4 base for the probe, training and evaluation (the hf
    backend, no vLLM), and its whole plan, the probe's jobs included (arithmetic data has
    a known size)."""
    config = load("qlora-cpu.yaml")
    assert config["quantization"]["mode"] == "4bit" and config["backend"]["name"] == "hf"
    assert config["model"] == "embedded" and "generation" not in config["train"]
    write_config(tmp_path, config)
    assert planned_jobs(tmp_path) == dict(expected_plan(config), probe_block=1, probe_greedy=1)


def test_hard_examples_matches_the_paper_settings():
    c = load("hard-examples.yaml")
    assert c["probe"]["k"] == 10 and c["probe"]["temperature"] == 1.0 and c["probe"]["max_new_tokens"] == 250
    assert {s["strategy"] for s in c["subsets"].values()} == {
        "hard",
        "medium",
        "easy",
        "random",
        "base_wrong",
        "base_right",
    }
    assert all(s["budget"] == 0.1 for s in c["subsets"].values())
    assert c["train"]["lora"] == dict(
        r=32,
        alpha=32,
        dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    assert (c["train"]["learning_rate"], c["train"]["num_generations"], c["train"]["steps"]) == (5e-6, 8, 1000)
    assert c["prompt"]["format"] == "boxed" and 8 in c["evaluate"]["pass_k"] and c["evaluate"]["samples"] >= 8
    assert c["datasets"]["aime2025"]["loader"] == "aime_hub"
    # sized for a 4B model on one 80 GB GPU (the comments in the file say why)
    assert (c["train"]["dtype"], c["train"]["gradient_checkpointing"], c["train"]["optim"]) == (
        "bfloat16",
        True,
        "adamw_8bit",
    )
    assert c["train"]["generation"] == dict(
        backend="vllm", mode="colocate", gpu_memory_utilization=0.3, max_model_len=1024
    )
    assert c["resources"]["train"]["gpu"] == 1


def run_cpu_sketch(tmp_path, tiny_model, name, datasets=None):
    config = load(name)
    config["model"] = f"path:{tiny_model}"
    config["prompt"] = copy.deepcopy(FEWSHOT)  # the tiny model learned this prefix
    for key, change in (datasets or {}).items():
        config["datasets"][key].update(change)
    write_config(tmp_path, config)
    snakemake(tmp_path)
    return config, tmp_path / "results" / config["name"]


def test_hard_examples_cpu_sketch(tmp_path, fitted_tiny_model):
    # the problems conftest.build_tiny_model memorized; the fitted model answers some of
    # them right greedily, so base_right has problems to choose from
    learned = dict(levels=[1, 2, 4], per_level={"train": 10, "test": 4})
    config, exp = run_cpu_sketch(
        tmp_path, fitted_tiny_model, "hard-examples-cpu.yaml", dict(arith_train=learned, arith_test=learned)
    )
    summary = pd.read_csv(exp / "report" / "summary.csv")
    assert set(summary["subset"]) == set(config["subsets"])
    ood = summary[summary["eval_set"] == "arith_ood"]
    assert ood["pass@4"].between(0, 1).all() and (ood["pass@4"] >= ood["pass@1"]).all()
    # without evaluate.every_steps the curves hold the base model (step 0) and the final adapter
    curves = pd.read_csv(exp / "report" / "accuracy_steps.csv")
    assert sorted(curves.loc[(curves["subset"] == "hard") & (curves["eval_set"] == "arith_ood"), "step"]) == [0, 2]
    # no strategy `all` here: steps-to-match is stated as not computed, not left out silently
    assert "not computed: no subset has strategy `all`" in (exp / "report" / "summary.md").read_text()
    assert planned_jobs(tmp_path) == {}


def test_limits_of_difficulty_cpu_sketch(tmp_path, tiny_model):
    config, exp = run_cpu_sketch(tmp_path, tiny_model, "limits-of-difficulty-cpu.yaml")
    # each run's checkpoint at step 1 was exported and evaluated
    assert (exp / "train" / "all" / "seed1" / "steps" / "1" / "adapter" / "adapter_model.safetensors").exists()
    curves = pd.read_csv(exp / "report" / "accuracy_steps.csv")
    assert sorted(curves.loc[curves["subset"] == "levels_1_3", "step"]) == [0, 1, 2]
    steps = pd.read_csv(exp / "report" / "steps_to_match.csv").set_index("subset")
    assert steps.loc["all", "status"] == "full run" and steps.loc["all", "full_steps"] == 2
    assert steps.loc["levels_1_3", "status"] in ("reached", "not reached")
    if steps.loc["levels_1_3", "status"] == "reached":
        assert steps.loc["levels_1_3", "fraction"] == steps.loc["levels_1_3", "step"] / 2
    summary = pd.read_csv(exp / "report" / "summary.csv")
    assert set(summary["seed"]) == {"0", "1", "all (2)"}
    tiers = pd.read_csv(exp / "report" / "tier_accuracy.csv")
    assert set(tiers["tier"]) == set(range(1, 7)) and (tiers["accuracy_lo"] <= tiers["accuracy"]).all()
    assert planned_jobs(tmp_path) == {}
    # a training change reruns training, every evaluation of the adapters and checkpoints, and the report
    changed = copy.deepcopy(load_written(tmp_path))
    changed["train"]["learning_rate"] = 5e-4
    write_config(tmp_path, changed)
    assert planned_jobs(tmp_path) == {"train_adapter": 4, "evaluate_adapter": 4, "evaluate_step": 4, "report": 1}


def load_written(workdir):
    return yaml.safe_load((workdir / "config.yaml").read_text())


def test_gpu_smoke_config_plans_the_study_on_one_gpu(tmp_path):
    """The GPU check's study (benchmarks/gpu_check.sh; tests/test_gpus.py runs it with CUDA):
    its settings, and its plan, which a dry run makes here without a GPU."""
    config = load("gpu-smoke.yaml")
    train = config["train"]
    assert (train["dtype"], train["gradient_checkpointing"], train["shared_prompt"], train["optim"]) == (
        "bfloat16",
        True,
        True,
        "paged_adamw_8bit",
    )
    assert train["steps"] == 20 and "generation" not in train  # HF rollouts
    assert config["model"] == "embedded" and config["backend"] == dict(name="hf", batch_size=256, dtype="bfloat16")
    assert all(config["resources"][family]["gpu"] == 1 for family in ("probe", "train", "evaluate"))
    write_config(tmp_path, config)
    plan = dict(expected_plan(config), prepare_model=1, probe_block=2, probe_greedy=1)
    assert planned_jobs(tmp_path) == plan
