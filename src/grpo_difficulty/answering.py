"""Answering: generate answers to a table of problems and score them with the task scorer
(the probe's sampled and greedy passes, the evaluation's)."""

from __future__ import annotations

import pandas as pd

from . import tasks
from .config.sections import PromptConfig

# one row per (problem, sample); truncated: cut at max_new_tokens (generation.base.Completion)
ANSWER_COLUMNS = ["id", "sample", "completion", "n_tokens", "truncated", "correct", "reason"]


def answer_problems(
    generator,
    rows: pd.DataFrame,
    prompt: PromptConfig,
    n: int,
    temperature: float,
    top_p: float,
    max_new_tokens: int,
    seed: int,
    first_sample: int = 0,
    desc: str = "generate",
    scorer: tasks.PluginScorer | None = None,
) -> pd.DataFrame:
    """Generate answers first_sample .. first_sample + n - 1 of every problem and score
    them (the dataset's plugin `scorer`, else the built-in one): one row per (id, sample)
    (`ANSWER_COLUMNS`). An answer is correct at reward 1; a plugin's partial reward (reason partial) is not."""
    prompts = [tasks.render_prompt(q, prompt, getattr(generator, "tokenizer", None)) for q in rows["question"]]
    completions = generator.generate(
        prompts,
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        seed=seed,
        stop=tasks.stop_strings(prompt),
        desc=desc,
        first_sample=first_sample,
    )
    records = []
    for row, samples in zip(rows.to_dict("records"), completions, strict=True):
        for j, c in enumerate(samples):
            reward, reason = tasks.grade(c.text, row, prompt.format, scorer)
            records.append(
                dict(
                    id=row["id"],
                    sample=first_sample + j,
                    completion=c.text,
                    n_tokens=c.n_tokens,
                    truncated=c.truncated,
                    correct=reward == 1.0,
                    reason=reason,
                )
            )
    table = pd.DataFrame(records, columns=ANSWER_COLUMNS)
    print(f"{desc}: {len(table)} answers scored: {reason_counts(table['reason'])}")
    return table


def reason_counts(reasons: pd.Series) -> str:
    """How answers scored, as logs show it: "correct 5, wrong 3, hedged 1, timeout 1"."""
    counts = reasons.value_counts()
    return ", ".join(f"{reason} {int(counts[reason])}" for reason in tasks.REASONS if reason in counts) or "none"


def answer_greedy(
    generator,
    rows: pd.DataFrame,
    prompt: PromptConfig,
    max_new_tokens: int,
    desc: str,
    scorer: tasks.PluginScorer | None = None,
) -> pd.DataFrame:
    """One greedy answer per problem, scored: the probe's and the evaluation's greedy pass."""
    return answer_problems(
        generator,
        rows,
        prompt,
        n=1,
        temperature=0.0,
        top_p=1.0,
        max_new_tokens=max_new_tokens,
        seed=0,
        desc=f"{desc} greedy",
        scorer=scorer,
    )
