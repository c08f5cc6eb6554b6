"""The transformers backend (CPU or GPU, the default)."""

from __future__ import annotations

import functools

import torch
from tqdm import tqdm

from ..config.sections import QuantizationConfig
from .base import Completion, cut_at_stop
from .models import load_model, newline_token_ids
from .prefill import common_prefix_length, length_to_eos, prefix_cache, shared_prefill
from .sampling import request_seed, sampling_processors


class HFGenerator:
    """transformers `generate`, batched with left padding; a prompt's K samples share
    the prompts' common few-shot prefix and the prompt's own prefill (`shared_prefill`).
    Sampling is greedy decoding over Gumbel-perturbed scores, one generator per sample
    seeded by `request_seed(seed, prompt) + j` (`GumbelNoise`), so a prompt's samples are
    the same whatever batch or call it is generated in. Nothing comes from the model's
    own generation config (`load_model` clears it)."""

    def __init__(
        self,
        model_ref: str,
        dtype: str = "auto",
        adapter: str | None = None,
        batch_size: int = 64,
        quantization: QuantizationConfig | None = None,
    ):
        self.model, self.tokenizer = load_model(model_ref, dtype, adapter, quantization)
        self.batch_size = batch_size

    @functools.cached_property
    def newline_ids(self) -> list[int]:
        return newline_token_ids(self.tokenizer)

    def _cache_prefix(self, prefix: list[int]) -> None:
        if getattr(self, "_prefix", None) != prefix:
            self._prefix, self._prefix_cache = prefix, prefix_cache(self.model, prefix)

    @torch.no_grad()
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
        """n completions per prompt: samples first_sample .. first_sample + n - 1 (greedy
        when temperature is 0)."""
        stop = stop or []
        per_batch = max(1, self.batch_size // n)
        out: list[list[Completion]] = []
        eos_ids = set(self.model.generation_config.eos_token_id)  # models.clear_generation_config
        if "\n" in stop:
            eos_ids |= set(self.newline_ids)
        encoded = self.tokenizer(prompts)["input_ids"]
        shared = common_prefix_length(encoded)
        self._cache_prefix(encoded[0][:shared])
        for start in tqdm(range(0, len(prompts), per_batch), desc=desc, unit="batch"):
            batch = [x[shared:] for x in encoded[start : start + per_batch]]
            ids, mask, cache = shared_prefill(
                self.model,
                self._prefix,
                self._prefix_cache,
                batch,
                [i for i in range(len(batch)) for _ in range(n)],
                self.tokenizer.pad_token_id,
            )
            processors = None
            if temperature > 0:
                seeds = [
                    request_seed(seed, p) + first_sample + j
                    for p in prompts[start : start + per_batch]
                    for j in range(n)
                ]
                processors = sampling_processors(temperature, top_p, seeds, self.model.device)
            generated = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                past_key_values=cache,
                do_sample=False,
                logits_processor=processors,
                max_new_tokens=max_new_tokens,
                eos_token_id=sorted(eos_ids),
                pad_token_id=self.tokenizer.pad_token_id,
            )[:, ids.shape[1] :]
            for i in range(len(batch)):
                samples = []
                for row in generated[i * n : (i + 1) * n].tolist():
                    # the stopping token counts (it may carry text before its newline)
                    length = length_to_eos(row, eos_ids)
                    text = self.tokenizer.decode(row[:length], skip_special_tokens=True)
                    # no end token: the row ran to max_new_tokens (a finished row is padded
                    # after its end token, an unfinished one makes the batch that long)
                    truncated = row[length - 1] not in eos_ids
                    samples.append(Completion(cut_at_stop(text, stop), length, truncated))
                out.append(samples)
        return out
