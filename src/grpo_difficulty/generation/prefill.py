"""Shared prefill: prompts that share a prefix (the few-shot examples) and rows that
continue the same prompt (a prompt's K samples) compute it once into a KV cache, copied
to the rows that continue it. Used by the HF backend (probe, evaluation) and by the
shared-prompt trainer (training rollouts) and the base check (trainer/base_check.py)."""

from __future__ import annotations

import copy

import torch


def common_prefix_length(sequences: list[list[int]]) -> int:
    """Tokens all sequences share at the start, leaving each at least one token of its own."""
    limit = min(len(x) for x in sequences) - 1
    length = 0
    while length < limit and all(x[length] == sequences[0][length] for x in sequences):
        length += 1
    return length


def length_to_eos(row: list[int], eos_ids) -> int:
    """Tokens of a generated row up to and including its first end-of-sequence id."""
    return next((j + 1 for j, t in enumerate(row) if t in eos_ids), len(row))


def backbone(model):
    """The transformer under a causal LM's head (unwrapping PEFT): enough to fill a KV
    cache without projecting every prompt position onto the vocabulary."""
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model.base_model


def prefix_cache(model, prefix: list[int]):
    """KV cache of `prefix` alone (one row); empty for an empty prefix."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    if prefix:
        cache = backbone(model)(
            input_ids=torch.tensor([prefix], device=model.device), past_key_values=cache, use_cache=True
        ).past_key_values
    return cache


def shared_prefill(model, prefix: list[int], cache, suffixes: list[list[int]], rows: list[int], pad_token_id: int):
    """Inputs and KV cache for generating rows that continue prompts `prefix + suffix`:
    the prefix's cache (`prefix_cache`, copied, not changed) computed once, each distinct
    suffix (all but its last token) once, then copied to the rows that continue it
    (`rows[i]`: the suffix row i continues). Returns (input_ids, attention_mask, cache)
    for `model.generate`.

    Repeating each prompt per row before the prefill (`num_return_sequences`, TRL's
    generation) would compute it once per sample; on CPU the prefill of few-shot prompts
    costs far more than decoding short answers. Padding sits between prefix and suffix,
    masked out, with position ids that skip it, so each row computes what its unpadded
    prompt would.
    """
    device = model.device
    width = max(len(x) for x in suffixes)
    suffix_ids = torch.tensor([[pad_token_id] * (width - len(x)) + x for x in suffixes], device=device)
    suffix_mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in suffixes], device=device)
    ids = torch.cat([torch.tensor([prefix], device=device, dtype=torch.long).expand(len(suffixes), -1), suffix_ids], 1)
    mask = torch.cat([torch.ones(len(suffixes), len(prefix), dtype=torch.long, device=device), suffix_mask], 1)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = copy.deepcopy(cache)
    cache.batch_repeat_interleave(len(suffixes))
    if width > 1:
        cache = backbone(model)(
            input_ids=ids[:, len(prefix) : -1],
            attention_mask=mask[:, :-1],
            position_ids=positions[:, len(prefix) : -1],
            past_key_values=cache,
            use_cache=True,
        ).past_key_values
    rows = torch.tensor(rows, device=device)
    cache.batch_select_indices(rows)
    return ids[rows], mask[rows], cache


def generate_rows(model, prompts: list[list[int]], rows: list[int], pad_token_id: int, generation_config, eos_ids):
    """`model.generate` of rows that continue `prompts` (`rows[i]`: the prompt row i
    continues), each prompt and their common prefix prefilled once (`shared_prefill`);
    each completion ends after its first end id in `eos_ids`."""
    shared = common_prefix_length(prompts)
    prefix = list(prompts[0][:shared])
    ids, mask, cache = shared_prefill(
        model, prefix, prefix_cache(model, prefix), [list(p[shared:]) for p in prompts], rows, pad_token_id
    )
    generated = model.generate(
        input_ids=ids, attention_mask=mask, past_key_values=cache, generation_config=generation_config
    )
    eos = set(eos_ids)
    return [row[: length_to_eos(row, eos)] for row in generated[:, ids.shape[1] :].tolist()]
