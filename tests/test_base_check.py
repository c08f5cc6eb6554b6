"""train.base_check: the base model's learnable % of each training step's prompts
(trainer/base_check.py), on the fitted tiny model, whose groups do and do not vary."""

import json

import pandas as pd
import pytest
from conftest import train_config

from grpo_difficulty import tasks, train
from grpo_difficulty.generation.models import load_tokenizer
from grpo_difficulty.trainer.base_check import BASE_METRIC, generation_kwargs
from grpo_difficulty.trainer.learnable import LEARNABLE_METRIC

CFG = dict(
    steps=3,
    learning_rate=1e-3,
    prompts_per_step=2,
    num_generations=4,
    max_completion_length=6,
    temperature=1.0,
    save_steps=10,
    rewards=dict(correctness=1.0, format=0.5),
    lora=dict(r=4, alpha=8, dropout=0.0, target_modules="all-linear"),
)


@pytest.fixture(scope="module")
def subset():
    return tasks.arithmetic_rows([1, 2], {"train": 6}, "train", 0)


@pytest.fixture(scope="module")
def runs(fitted_tiny_model, subset, tmp_path_factory):
    """(metrics.csv, train_info) of three runs at one seed: base check on, off, and on at a
    learning rate 500x higher."""
    from conftest import FEWSHOT

    from grpo_difficulty.config.sections import PromptConfig, build

    prompt = build(PromptConfig, json.loads(json.dumps(FEWSHOT)))
    found = {}
    for name, edit in dict(on={}, off=dict(base_check=False), fast=dict(learning_rate=0.5)).items():
        out = tmp_path_factory.mktemp(name)
        info = train.train_adapter(fitted_tiny_model, subset, prompt, train_config({**CFG, **edit}), 0, out)
        found[name] = (pd.read_csv(out / "metrics.csv"), info)
    return found


def test_the_base_check_leaves_training_unchanged(runs):
    (on, on_info), (off, off_info) = runs["on"], runs["off"]
    assert BASE_METRIC not in off and off_info["learnable_base_pct"] is None
    timing = [c for c in off if "time" in c or "per_second" in c]
    pd.testing.assert_frame_equal(on.drop(columns=[BASE_METRIC, *timing]), off.drop(columns=timing))
    assert on_info["learnable_pct"] == off_info["learnable_pct"]


def test_the_base_check_is_logged_every_step_and_does_not_follow_the_learning_rate(runs):
    (on, info), (fast, _) = runs["on"], runs["fast"]
    assert on[BASE_METRIC].notna().all() and on[BASE_METRIC].between(0, 1).all()
    assert 0 < on[BASE_METRIC].max()  # groups with a right and a wrong answer occur
    assert info["learnable_base_pct"] == pytest.approx(100 * on[BASE_METRIC].mean(), abs=0.01)
    # the same prompts (epoch order depends on the seed only) and base samples at either rate
    assert fast[BASE_METRIC].tolist() == on[BASE_METRIC].tolist()
    # while the policy (its completions, its learnable %) moves with the rate
    assert fast["completions/mean_length"].tolist() != on["completions/mean_length"].tolist()
    assert fast[LEARNABLE_METRIC].tolist() != on[LEARNABLE_METRIC].tolist()


def test_the_base_check_samples_with_trls_generation_settings(tiny_model, subset, fewshot_prompt, tmp_path):
    trainer = train.build_trainer(
        tiny_model, load_tokenizer(tiny_model), subset, fewshot_prompt, train_config(CFG), 0, tmp_path
    )
    assert generation_kwargs(trainer) == trainer.generation_kwargs
