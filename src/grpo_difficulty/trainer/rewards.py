"""The training rewards (TRL reward functions): correctness from the task's scorer (or the
training set's plugin scorer), the
answer format, and a length penalty; `reward_functions` picks those with weight."""

from __future__ import annotations

from .. import tasks
from ..config.sections import TrainConfig, as_dict
from .learnable import CORRECTNESS


def correctness_reward(fmt: str, plugin: tasks.PluginScorer | None = None):
    """The dataset's scorer as a reward: its plugin's reward in [0, 1] (datasets.<name>.scorer),
    else 1.0 for a correct final answer by the built-in scorer of its answer type, 0.0 if not."""

    def correctness(prompts, completions, gold, answer_type, **columns):
        missing = [None] * len(completions)
        ids, records = columns.get("id", missing), columns.get("record", missing)
        rows = [
            dict(gold=g, answer_type=t, id=i, record=r)
            for g, t, i, r in zip(gold, answer_type, ids, records, strict=True)
        ]
        return [tasks.grade(c, row, fmt, plugin)[0] for c, row in zip(completions, rows, strict=True)]

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


def reward_functions(cfg: TrainConfig, fmt: str, plugin: tasks.PluginScorer | None = None) -> tuple[list, list[float]]:
    """The reward callables with non-zero weight (correctness always: it makes the learnable
    %; a plugin scorer's when the training set has one), and their weights (TRL
    `reward_weights`). TRL logs each one as rewards/<name>/mean and /std, <name> being its
    train.rewards key."""
    weights = as_dict(cfg.rewards)
    made = dict(
        correctness=correctness_reward(fmt, plugin),
        format=format_reward(fmt),
        length=length_penalty(cfg.max_completion_length),
    )
    for name, func in made.items():
        func.__name__ = name  # TRL names the logged columns after __name__
    chosen = [(made[name], float(w)) for name, w in weights.items() if w or name == CORRECTNESS]
    if not any(w for _, w in chosen):
        raise ValueError("train.rewards: every weight is 0; no reward to learn from")
    return [f for f, _ in chosen], [w for _, w in chosen]
