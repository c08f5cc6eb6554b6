"""The sampling rule both backends follow: sample j of a prompt is drawn with seed
`request_seed(seed, prompt) + j`, and HF draws it by greedy decoding over Gumbel-perturbed
scores so that a row's tokens do not depend on the other rows of its batch."""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from ..files import stable_hash


def request_seed(seed: int, prompt: str) -> int:
    """The sampling seed of a prompt's sample 0: sample j is drawn with `request_seed + j`.

    Both backends follow this rule (it is vLLM's for the n samples of one request), so
    sample j of a problem depends only on (seed, prompt text, j): not on the other prompts
    of the call, their order, the batch size or which probe job asked for it.
    """
    return int(stable_hash([seed, prompt], 15), 16)


class GumbelNoise(LogitsProcessor):
    """The last logits processor of sampled HF generation: adds Gumbel noise to each row's
    processed scores (after temperature and top-p), so that greedy decoding over the result
    is exact sampling from softmax(scores) (the Gumbel-max trick).

    Row i's noise at step t is the t-th draw of its own generator, seeded with seeds[i];
    unlike `do_sample`'s draws from the global RNG, a row's tokens then do not depend on
    the other rows of its batch. A floating-point difference between batch shapes can still
    flip a near-tie of the two best perturbed scores: rare in float32 (none in the tests),
    likelier in bfloat16.
    """

    def __init__(self, seeds: list[int], device):
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        uniform = torch.stack(
            [torch.rand(scores.shape[-1], generator=g, device=scores.device) for g in self.generators]
        )
        return scores - torch.log(-torch.log(uniform))  # u = 0 gives -inf: that token is not drawn


def sampling_processors(temperature: float, top_p: float, seeds: list[int], device):
    """Logits processors that make greedy `generate` sample at (temperature, top_p) with
    one seed per row: nothing else (no top-k), the distribution of vLLM's
    SamplingParams(temperature, top_p) and of TRL's training generation (top_k=0)."""
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

    warpers = [TemperatureLogitsWarper(temperature)] + ([TopPLogitsWarper(top_p)] if top_p < 1.0 else [])
    return LogitsProcessorList([*warpers, GumbelNoise(seeds, device)])
