"""benchmarks/sync_cost.py: its parameter-count formula against real models of each layout
(Llama, Qwen2 with q/k/v biases, Qwen3 with q/k norms, tied and untied embeddings), and its
three syncs run on a tiny model (bytes = what the formula says)."""

import sys

import pytest
from workflow_helpers import ROOT

from grpo_difficulty.config.sections import AdapterConfig

sys.path.insert(0, str(ROOT / "benchmarks"))
import sync_cost  # noqa: E402

SMALL = dict(
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=300,
)
TARGETS = ["q_proj", "v_proj", "down_proj"]


def real_model(model_type: str, tied: bool, head_dim: int | None):
    from transformers import AutoConfig, AutoModelForCausalLM

    extra = {"head_dim": head_dim} if head_dim else {}
    config = AutoConfig.for_model(model_type, tie_word_embeddings=tied, **SMALL, **extra)
    arch = dict(SMALL, model_type=model_type, tie_word_embeddings=tied, **extra)
    return AutoModelForCausalLM.from_config(config), arch


@pytest.mark.parametrize(
    "model_type, tied, head_dim, targets",
    [
        ("llama", True, None, "all-linear"),
        ("llama", False, None, TARGETS),
        ("qwen2", True, None, "all-linear"),
        ("qwen3", True, 32, TARGETS),
    ],
)
def test_counts_match_real_models(model_type, tied, head_dim, targets):
    from peft import LoraConfig, get_peft_model

    model, arch = real_model(model_type, tied, head_dim)
    base = sum(p.numel() for p in model.parameters())
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=targets, task_type="CAUSAL_LM"))
    lora = peft_model.get_nb_trainable_parameters()[0]
    assert sync_cost.parameter_counts(arch, 4, targets) == (base, lora)


def test_the_three_syncs_move_what_the_counts_say(tmp_path):
    model, arch = real_model("qwen2", True, None)
    model.save_pretrained(tmp_path / "model")
    lora = AdapterConfig(r=4, target_modules=TARGETS)
    rows, measured = sync_cost.measure(str(tmp_path / "model"), "float32", lora, 2)
    assert measured == sync_cost.parameter_counts(arch, 4, TARGETS)
    sizes = {sync: size for sync, size, wall, cpu in rows}
    assert sizes["merged, TRL colocate"] == 4 * measured[0]  # every base weight, float32
    assert 4 * measured[1] < sizes["adapter"] < 4 * measured[1] + 10_000  # LoRA weights + header
    assert 4 * measured[0] < sizes["merged, safetensors file"] < 4 * measured[0] + 50_000
    assert all(len(wall) == len(cpu) == 2 for _, _, wall, cpu in rows)
