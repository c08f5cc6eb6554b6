"""Exactly the configured sampling: a model folder whose generation_config.json sets
penalties, top-k, a temperature and a minimum length generates byte-identical probe
samples, greedy answers and training rollouts to the same weights without them."""

import json
import shutil

import pandas as pd
import pytest
import torch
from conftest import train_config
from test_grpo_trainer import GROUPS, STEP_CFG

from grpo_difficulty import probe, tasks, train
from grpo_difficulty.generation.hf import HFGenerator
from grpo_difficulty.generation.models import load_tokenizer

# Each of these changes what transformers generates when it is applied (checked below).
MODEL_DEFAULTS = dict(
    repetition_penalty=1.8,
    no_repeat_ngram_size=1,
    top_k=2,
    top_p=0.5,
    min_p=0.2,
    temperature=0.3,
    min_new_tokens=4,
    do_sample=True,
)
SAMPLING = dict(block_size=4, temperature=1.0, top_p=0.9, max_new_tokens=6, seed=5)


@pytest.fixture(scope="module")
def opinionated_model(tiny_model, tmp_path_factory) -> str:
    """The tiny model's folder with MODEL_DEFAULTS added to its generation_config.json."""
    out = tmp_path_factory.mktemp("opinionated") / "model"
    shutil.copytree(tiny_model, out)
    path = out / "generation_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **MODEL_DEFAULTS}))
    return str(out)


@pytest.fixture(scope="module")
def rows():
    return tasks.arithmetic_rows([1, 2, 4], {"train": 4}, "train", 0)


def test_the_model_defaults_change_plain_generation(tiny_model, opinionated_model, rows, fewshot_prompt):
    """The test has teeth: transformers alone applies the folder's settings."""
    from transformers import AutoModelForCausalLM

    tok = load_tokenizer(tiny_model)
    enc = tok([tasks.render_prompt(q, fewshot_prompt) for q in rows["question"]], return_tensors="pt", padding=True)
    outputs = []
    for folder in (tiny_model, opinionated_model):
        model = AutoModelForCausalLM.from_pretrained(folder)
        torch.manual_seed(0)
        outputs.append(model.generate(**enc, max_new_tokens=6, pad_token_id=tok.pad_token_id))
    assert model.generation_config.repetition_penalty == 1.8
    assert not torch.equal(outputs[0], outputs[1])


def test_probe_and_greedy_answers_ignore_the_model_defaults(tiny_model, opinionated_model, rows, fewshot_prompt):
    found = {}
    for folder in (tiny_model, opinionated_model):
        gen = HFGenerator(folder, batch_size=8)
        kept = gen.model.generation_config.to_diff_dict().keys()
        assert kept <= {"eos_token_id", "pad_token_id", "transformers_version"}
        found[folder] = (
            probe.probe_block(gen, rows, fewshot_prompt, 0, **SAMPLING),
            probe.probe_greedy(gen, rows, fewshot_prompt, SAMPLING["max_new_tokens"]),
        )
    (samples, greedy), (samples_with, greedy_with) = found[tiny_model], found[opinionated_model]
    assert samples["completion"].nunique() > 5 and (greedy["greedy_completion"] != "").any()  # real answers
    for ours, theirs in ((samples, samples_with), (greedy, greedy_with)):
        assert ours.to_csv(index=False) == theirs.to_csv(index=False)  # byte-identical tables


@pytest.mark.parametrize("shared_prompt", [False, True])
def test_training_rollouts_ignore_the_model_defaults(
    shared_prompt, tiny_model, opinionated_model, rows, fewshot_prompt, tmp_path
):
    """TRL's rollouts (its own transformers path, and the shared-prompt one): the same
    completion ids for the same seed, with or without the folder's settings."""
    completions = []
    for folder in (tiny_model, opinionated_model):
        trainer = train.build_trainer(
            folder,
            load_tokenizer(folder),
            rows,
            fewshot_prompt,
            train_config(dict(STEP_CFG, shared_prompt=shared_prompt)),
            seed=0,
            output_dir=tmp_path / "out",
        )
        prompts = [trainer.train_dataset[i]["prompt"] for i in GROUPS for _ in range(STEP_CFG["num_generations"])]
        torch.manual_seed(3)
        completions.append(trainer._generate_single_turn(trainer._tokenize_prompts(prompts)[0], None, {}, 4)[0])
    assert len({tuple(ids) for ids in completions[0]}) > 3  # sampled, not one repeated answer
    assert completions[1] == completions[0]
    assert pd.Series([len(ids) for ids in completions[0]]).min() < 4  # min_new_tokens=4 was not applied
