"""The shared-prompt loss pass under gradient checkpointing: the prompt pass runs once per
group with its activations kept, and the completion pass is checkpointed layer by layer
over a prompt cache that no forward writes to, so a layer's recompute in the backward pass
reads the keys and values its forward read. The transformers members used are listed in
compat.py."""

from __future__ import annotations

import contextlib

import torch
from transformers.cache_utils import Cache, DynamicLayer


class PromptLayer(DynamicLayer):
    """One layer's prompt keys/values: `update` returns them followed by the new states
    and stores nothing, so every call (a forward and its recompute) sees the prompt alone."""

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        return torch.cat([self.keys, key_states], -2), torch.cat([self.values, value_states], -2)


def read_only(cache: Cache) -> Cache | None:
    """`cache` with each layer replaced by a PromptLayer holding the same tensors; None
    when a layer is not a plain DynamicLayer (sliding windows and the like keep their own
    update rules)."""
    if any(type(layer) is not DynamicLayer for layer in cache.layers):
        return None
    for i, layer in enumerate(cache.layers):
        prompt = PromptLayer()
        prompt.lazy_initialization(layer.keys, layer.values)
        prompt.keys, prompt.values = layer.keys, layer.values
        cache.layers[i] = prompt
    return cache


@contextlib.contextmanager
def modules_set(model: torch.nn.Module, **settings):
    """Set attributes of every module of `model` that has them, for the block, restoring
    each module's own after it. gradient_checkpointing=False (the flag transformers sets
    on the decoder layers and on the model, which turns use_cache off under it): the
    layers run with their activations kept and return a cache. _can_checkpoint_with_cache
    =True (transformers' GradientCheckpointingLayer): a checkpointed layer keeps the cache
    passed to it."""
    modules = [module for module in model.modules() if all(hasattr(module, name) for name in settings)]
    saved = [{name: vars(module)[name] for name in settings if name in vars(module)} for module in modules]
    for module in modules:
        for name, value in settings.items():
            setattr(module, name, value)
    try:
        yield
    finally:
        for module, own in zip(modules, saved, strict=True):
            for name in settings:
                if name in own:
                    setattr(module, name, own[name])
                else:
                    delattr(module, name)
