"""TRL's GRPOTrainer as a training run uses it: the trainer class of its settings, and
TRL's fused LM head scoring completion positions only on CPU."""

from __future__ import annotations

import functools

from .compat import require_supported_trl
from .dynamic_sampling import DynamicSamplingGRPOTrainer
from .learnable import LearnableGRPOTrainer
from .shared_prompts import SharedPromptGRPOTrainer
from .vllm_rollouts import VLLMRolloutGRPOTrainer


def score_completion_tokens_only() -> None:
    """Make TRL score only completion positions on CPU.

    TRL's fused LM head (trl/trainer/utils.py, `_fused_forward`) sends only the
    completion positions through the vocabulary projection when `_use_triton(device)`
    is true, and every prompt/pad position otherwise, which on CPU makes a step ~4x
    slower for the same result. No config field selects the compact path, so the copy
    of `_use_triton` in trl.trainer.utils is overridden for CPU devices; the kernel
    module keeps its own copy and still uses its pure-torch code there.
    tests/test_grpo_trainer.py checks that gradients match the unpatched path.
    """
    require_supported_trl()
    import trl.trainer.utils as trl_utils
    from trl.kernels.chunked_logprob import _use_triton

    trl_utils._use_triton = lambda device: device.type == "cpu" or _use_triton(device)


def grpo_trainer_class(shared_prompt: bool = True, dynamic_sampling: bool = False, vllm_rollouts: bool = False) -> type:
    """TRL's GRPOTrainer logging the correctness learnable % (LearnableGRPOTrainer, the
    base of the others), with dynamic sampling, rollouts by an adapter-synced vLLM
    engine and/or the shared-prompt passes."""
    require_supported_trl()
    chosen = [
        cls
        for cls, on in (
            (DynamicSamplingGRPOTrainer, dynamic_sampling),
            (VLLMRolloutGRPOTrainer, vllm_rollouts),
            (SharedPromptGRPOTrainer, shared_prompt),
        )
        if on
    ]
    if len(chosen) < 2:
        return chosen[0] if chosen else LearnableGRPOTrainer
    return _combined(*chosen)


@functools.cache
def _combined(*bases: type) -> type:
    # DynamicSampling first: its rounds call GRPOTrainer's scoring, which calls the
    # generation and log-prob methods below it in the MRO; the vLLM engine's generation
    # comes before the shared-prompt one (whose log-prob passes then serve its rollouts).
    name = "".join(cls.__name__.removesuffix("GRPOTrainer") for cls in bases)
    return type(f"{name}GRPOTrainer", bases, {})
