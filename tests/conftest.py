"""Shared fixtures: a tiny model built here (seconds to train), and the ../shared data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

FEWSHOT = {
    "format": "fewshot",
    "chat_template": False,
    "examples": [{"question": "What is 3 + 4?", "answer": "7"}, {"question": "What is 6 * 7?", "answer": "42"}],
}


def new_tiny_llama(corpus: list[str]):
    """(model, tokenizer): an untrained 2-layer Llama with a byte-level BPE tokenizer
    learnt from `corpus`."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(corpus * 3, vocab_size=300, min_frequency=1, special_tokens=["<eos>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<eos>", pad_token="<eos>")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config), tokenizer


def fit_tiny_llama(model, tokenizer, texts: list[str], steps: int, out_dir: Path, learnt_from: list[int] | None = None):
    """Train `model` on `texts` (each one's loss from token `learnt_from[i]` on; all
    tokens when None) with AdamW, then save model and tokenizer to out_dir."""
    import torch

    data = tokenizer(texts, return_tensors="pt", padding=True)
    labels = data["input_ids"].masked_fill(data["attention_mask"] == 0, -100)
    for row, start in enumerate(learnt_from or []):
        labels[row, :start] = -100
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        model(**data, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_tiny_model(out_dir: Path, steps: int = 40) -> Path:
    """A 2-layer Llama with a byte-level BPE tokenizer, briefly trained (`steps`) on
    few-shot one-digit sums so that its answers are sometimes right: pass rates then spread
    and GRPO groups have reward variance, as with a real base model."""
    from grpo_difficulty.tasks import arithmetic_rows

    corpus = [
        f"Q: {q}\nA: {a}\n\n"
        for q, a in arithmetic_rows(list(range(1, 10)), {"x": 20}, "x", 5)[["question", "gold"]].values
    ]
    model, tokenizer = new_tiny_llama(corpus)
    # Partly memorize the first problems of the arithmetic streams the tests use, behind
    # the tests' few-shot prefixes: answers are then right only sometimes.
    rows = arithmetic_rows([1, 2, 4], {"x": 10}, "x", 0)
    prefixes = ["".join(f"Q: {e['question']}\nA: {e['answer']}\n\n" for e in FEWSHOT["examples"][:n]) for n in (1, 2)]
    texts = [f"{p}Q: {q}\nA: {a}\n\n" for p in prefixes for q, a in rows[["question", "gold"]].values]
    return fit_tiny_llama(model, tokenizer, texts, steps, out_dir)


# Modules that take a minute or more (docs/performance.md, "Test suite"), longest first:
# they are collected, and so handed to the two xdist workers (pyproject.toml addopts,
# whole files per worker), before every other module, so that both workers finish together.
LONGEST_FIRST = [
    "test_faults.py",
    "test_slurm.py",
    "test_experiments.py",
    "test_export.py",
    "test_workflow.py",
    "test_end_to_end.py",
    "test_byo_workflow.py",
    "test_train.py",
    "test_rerun_effects.py",
    "test_hub_models.py",
    "test_base_check.py",
    "test_scorer_workflow.py",
    "test_cannot_teach.py",
    "test_tracking.py",
]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file keeps its order


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny_model")))


@pytest.fixture(scope="session")
def fitted_tiny_model(tmp_path_factory) -> str:
    """The tiny model trained twice as long. Under the strict scorer the 40-step model's
    answers are nearly all hedged (" 4?"): no problem right greedily, ~5% of samples right.
    This one answers about half of the problems it memorized right greedily and its
    sampled pass rates spread from 0 to 8 of 8, for tests that need greedy-right problems
    or groups with reward variance."""
    return str(build_tiny_model(tmp_path_factory.mktemp("fitted_tiny_model"), steps=80))


@pytest.fixture
def fewshot_prompt():
    from grpo_difficulty.config.sections import PromptConfig, build

    return build(PromptConfig, json.loads(json.dumps(FEWSHOT)))


def shared_data(name: str, probe: str) -> Path:
    """A folder of ../shared/data, or skip the test where this checkout has none."""
    path = SHARED_DATA / name
    if not (path / probe).exists():
        pytest.skip(f"../shared/data/{name} not present")
    return path


@pytest.fixture(scope="session")
def bbh_dir() -> Path:
    return shared_data("bbh", "tracking_shuffled_objects_three_objects.json")


@pytest.fixture(scope="session")
def gsm8k_dir() -> Path:
    return shared_data("gsm8k", "train.jsonl")


def train_config(cfg: dict):
    """The typed train section of a test's dict (learning_rate, the one required key,
    filled in when the test does not care)."""
    from grpo_difficulty.config.sections import TrainConfig, build

    return build(TrainConfig, {"learning_rate": 1e-3, **cfg}, "train.")
