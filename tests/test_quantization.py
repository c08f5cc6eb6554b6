"""4-bit and 8-bit bases (`quantization`, bitsandbytes): the config checks and keys, and a
tiny model probed, trained (QLoRA) and evaluated in 4-bit on CPU, as the jobs load it."""

import copy
import importlib.util

import pytest
import torch
import yaml
from conftest import train_config
from safetensors.torch import load_file
from workflow_helpers import ROOT, test_config

from grpo_difficulty import evaluate, probe, tasks, train
from grpo_difficulty.config.checks import load_config
from grpo_difficulty.config.keys import difficulty_source, probe_key, quantization_fields
from grpo_difficulty.config.sections import BackendConfig, ConfigError, EvaluateConfig, QuantizationConfig, build
from grpo_difficulty.generation.backends import make_generator
from grpo_difficulty.generation.models import job_model, load_base_model

FOUR_BIT = QuantizationConfig(mode="4bit")
QLORA_CFG = dict(
    steps=2,
    learning_rate=5e-3,
    lr_scheduler="constant",
    prompts_per_step=2,
    num_generations=4,
    max_completion_length=6,
    temperature=1.0,
    save_steps=2,
    rewards=dict(correctness=1.0, format=0.5, length=0.1),  # rewards that differ within a group: a gradient
    lora=dict(r=4, alpha=8, dropout=0.0, target_modules="all-linear"),
)


@pytest.fixture(scope="module")
def default_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def quantized(config: dict, **quantization) -> dict:
    return {**copy.deepcopy(config), "quantization": quantization}


def test_missing_bitsandbytes_is_a_config_error_naming_the_key(tmp_path, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "bitsandbytes" else find_spec(name, *a)
    )
    with pytest.raises(ConfigError, match=r"config error at quantization.mode: '4bit' needs bitsandbytes, which is"):
        load_config(quantized(test_config(str(tmp_path)), mode="4bit"))
    load_config(test_config(str(tmp_path)))  # full precision needs none


def test_quantization_is_in_the_probe_key_and_model_params_only_when_set(default_config):
    plain = load_config(copy.deepcopy(default_config))
    assert quantization_fields(plain) == {}
    assert probe_key(plain) == "7505b985e2"  # the probe folder of every earlier version
    assert probe_key(load_config(quantized(default_config, mode="none"))) == "7505b985e2"
    settings = [dict(mode="4bit"), dict(mode="4bit", double_quant=True), dict(mode="8bit")]
    cfgs = [load_config(quantized(default_config, **s)) for s in settings]
    assert len({probe_key(cfg) for cfg in [plain, *cfgs]}) == 4
    assert quantization_fields(cfgs[0]) == dict(quantization=dict(mode="4bit", double_quant=False))
    assert "4bit weights" in difficulty_source(cfgs[0]) and "weights" not in difficulty_source(plain)


def test_jobs_load_what_the_model_params_name(tiny_model):
    class Params:  # the rules' model_params: quantization only when set
        model = tiny_model

    assert job_model(Params) == (tiny_model, None)
    Params.quantization = dict(mode="8bit", double_quant=False)
    assert job_model(Params) == (tiny_model, QuantizationConfig(mode="8bit"))


def linear_types(model) -> set[str]:
    return {type(m).__name__ for m in model.modules() if "Linear" in type(m).__name__}


@pytest.mark.parametrize("mode, layer", [("4bit", "Linear4bit"), ("8bit", "Linear8bitLt")])
def test_a_quantized_probe_answers_with_bitsandbytes_layers(tiny_model, fewshot_prompt, mode, layer):
    generator = make_generator(BackendConfig(), tiny_model, quantization=QuantizationConfig(mode=mode))
    assert layer in linear_types(generator.model)
    full = load_base_model(tiny_model)
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        gap = (generator.model(ids).logits - full(ids).logits).abs().max()
    assert 0 < gap < 1  # quantized weights: near the full-precision model, not it
    rows = tasks.arithmetic_rows([1, 2], {"train": 4}, "train", 0)
    table = probe.probe_block(
        generator, rows, fewshot_prompt, 0, block_size=2, temperature=1.0, top_p=1.0, max_new_tokens=6, seed=0
    )
    assert len(table) == 2 * len(rows) and table["correct"].isin([True, False]).all()


def test_qlora_trains_and_evaluation_loads_the_4bit_base_with_its_adapter(
    tiny_model, fewshot_prompt, tmp_path, monkeypatch
):
    import trl.trainer.utils as trl_utils

    monkeypatch.setattr(trl_utils, "_use_triton", trl_utils._use_triton)  # score_completion_tokens_only patches it
    rows = tasks.arithmetic_rows([1, 2], {"train": 4}, "train", 0)
    info = train.train_adapter(
        tiny_model, rows, fewshot_prompt, train_config(QLORA_CFG), 0, tmp_path, quantization=FOUR_BIT
    )
    assert info["steps"] == 2
    weights = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert any("lora_B" in name and w.abs().sum() > 0 for name, w in weights.items())  # trained

    generator = make_generator(BackendConfig(), tiny_model, str(tmp_path / "adapter"), quantization=FOUR_BIT)
    model = generator.model  # the adapter kept beside the 4-bit layers, not merged into them
    assert {"Linear4bit", "Linear"} <= linear_types(model) and hasattr(model, "disable_adapter")
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        adapted = model(ids).logits
        with model.disable_adapter():
            base = model(ids).logits
    assert (adapted - base).abs().max() > 0
    settings = build(EvaluateConfig, dict(max_new_tokens=6), "evaluate.")
    predictions, _ = evaluate.predict(generator, rows, fewshot_prompt, settings, desc="eval")
    assert len(predictions) == len(rows) and predictions["completion"].str.len().gt(0).any()
    assert set(evaluate.summarize(predictions)["per_tier"]) == set(rows["tier"])
