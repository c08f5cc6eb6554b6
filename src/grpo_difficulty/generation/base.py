"""The interface of a generation backend (`Generator`): what the probe and the
evaluation call, whichever backend the config names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Completion:
    """A sample's text, cut before its first stop string, its generated token count (the
    stopping token included), and whether it was cut at the token limit (`truncated`: it
    reached max_new_tokens without an end token or stop string)."""

    text: str
    n_tokens: int
    truncated: bool


class Generator(Protocol):
    """A backend: `generate(...) -> completions[prompt][n]`. Sample j of a prompt depends
    only on (seed, prompt text, j) (`sampling.request_seed`): not on the other prompts of
    the call, their order or the batch size; temperature 0 is greedy decoding."""

    tokenizer: Any  # renders chat templates (tasks.render_prompt)

    def generate(
        self,
        prompts: list[str],
        n: int,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        seed: int,
        stop: list[str] | None = None,
        desc: str = "generate",
        first_sample: int = 0,
    ) -> list[list[Completion]]:
        """n completions per prompt: samples first_sample .. first_sample + n - 1."""
        ...


def cut_at_stop(text: str, stop: list[str]) -> str:
    """`text` up to its first stop string."""
    cut = min((text.find(s) for s in stop if s in text), default=-1)
    return text if cut < 0 else text[:cut]
