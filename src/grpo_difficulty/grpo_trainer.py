"""Everything that depends on TRL's GRPOTrainer internals, checked against one TRL version.

- `score_completion_tokens_only`: TRL's CPU LM-head path scores completion positions only;
- the shared-prompt trainer: the G completions of a group are generated from one prefill
  of their prompt, and the loss pass runs each distinct prompt once, its KV cache copied
  to the group's rows;
- the dynamic-sampling trainer (DAPO-style: groups without reward variance are replaced);
- `grpo_trainer_class`: TRL's GRPOTrainer with any of the two.

They override private TRL methods (`_use_triton`, `_generate_single_turn`,
`_get_per_token_logps_and_entropies`, `_generate_and_score_completions`,
`_calculate_rewards`) whose signatures and meaning change between TRL releases, so each
refuses to run on another TRL version than SUPPORTED_TRL (tests/test_grpo_trainer.py
fails on one). Upgrading TRL: re-read those methods, rerun tests/test_grpo_trainer.py
and tests/test_train.py, then raise SUPPORTED_TRL.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .generation import backbone, common_prefix_length, length_to_eos, prefix_cache, shared_prefill

SUPPORTED_TRL = "1.16.0"


def require_supported_trl() -> None:
    import trl

    if trl.__version__ != SUPPORTED_TRL:
        raise RuntimeError(
            f"grpo_difficulty.grpo_trainer was checked against trl {SUPPORTED_TRL}, found "
            f"{trl.__version__}: re-check the TRL methods it overrides (see its docstring)"
        )


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


def grpo_trainer_class(shared_prompt: bool = True, dynamic_sampling: bool = False) -> type:
    """TRL's GRPOTrainer with the shared-prompt passes and/or dynamic sampling."""
    require_supported_trl()
    grpo, shared, dynamic = _trainer_classes()
    chosen = [cls for cls, on in ((dynamic, dynamic_sampling), (shared, shared_prompt)) if on]
    if len(chosen) < 2:
        return chosen[0] if chosen else grpo
    return _combined(*chosen)


@functools.cache
def _combined(*bases: type) -> type:
    # DynamicSampling first: its rounds call GRPOTrainer's scoring, which calls the
    # shared-prompt generation and log-prob methods below it in the MRO.
    return type("DynamicSamplingSharedPromptGRPOTrainer", bases, {})


@functools.cache
def _trainer_classes():
    """(GRPOTrainer, SharedPromptGRPOTrainer, DynamicSamplingGRPOTrainer), built on first
    use: importing trl is slow."""
    require_supported_trl()
    from transformers import Cache
    from trl import GRPOTrainer
    from trl.models import unwrap_model_for_generation
    from trl.trainer.utils import nanstd

    class SharedPromptGRPOTrainer(GRPOTrainer):
        """GRPOTrainer that processes each group's prompt once instead of G times.

        Generation (TRL's transformers path): the distinct prompts of a generation batch
        share their common prefix and each is prefilled once (`generation.shared_prefill`,
        as the probe does); the cache is copied to the prompt's rows, then `generate` runs
        with TRL's generation config, and completions end after their first EOS id as in
        TRL. Same rows, order and sampling calls as TRL's, so the same seed draws the same
        completions up to floating-point noise.

        Log-probs (policy in the loss; old and reference where TRL computes them): one
        forward of each distinct prompt but its last token, under the model's backbone,
        returning its KV cache; the cache is indexed to the rows that continue the prompt
        (the autograd graph kept: the backward flows through the cached keys/values into
        the prompt's LoRA activations), then one forward of [last prompt token,
        completion] over it through TRL's fused LM head (temperature, entropy). Position
        ids and masks are those of TRL's full-sequence pass (left-padded rows, positions
        counted from the padded start), so the numbers are TRL's
        (tests/test_grpo_trainer.py).

        Where a setting needs the full sequence or the model gives no usable cache, TRL's
        own code runs instead and the reason is printed once (`_fall_back`).
        """

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._fallbacks_told = set()

        def _fall_back(self, reason: str) -> None:
            if reason not in self._fallbacks_told:
                self._fallbacks_told.add(reason)
                print(f"train.shared_prompt: {reason}; TRL's own path runs there")

        def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
            reason = (
                "vLLM generates (its prefix cache shares prompts)"
                if self.use_vllm
                else "transformers continuous batching generates"
                if self.use_transformers_continuous_batching
                else "multimodal prompts"
                if images is not None or multimodal_fields or has_tool_images
                else "generation uses args.cache_implementation"
                if self.generation_config.cache_implementation
                else None
            )
            if reason:
                self._fall_back(reason)
                return super()._generate_single_turn(
                    prompt_ids, images, multimodal_fields, num_generations, has_tool_images
                )
            index = {}  # distinct prompts in order of first appearance
            rows = [index.setdefault(tuple(ids), len(index)) for ids in prompt_ids]
            distinct = list(index)
            shared = common_prefix_length(distinct)
            prefix = list(distinct[0][:shared])
            with (
                unwrap_model_for_generation(
                    self.model_wrapped,
                    self.accelerator,
                    gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                    generation_kwargs=self.generation_kwargs,
                    gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs,
                ) as model,
                torch.no_grad(),
                self._dist.summon_full_params(self.model_wrapped, recurse=False),
            ):
                ids, mask, cache = shared_prefill(
                    model,
                    prefix,
                    prefix_cache(model, prefix),
                    [list(p[shared:]) for p in distinct],
                    rows,
                    self._tokenizer.pad_token_id,
                )
                generated = model.generate(
                    input_ids=ids, attention_mask=mask, past_key_values=cache, generation_config=self.generation_config
                )
            eos = set(self.eos_token_ids)
            completions = [row[: length_to_eos(row, eos)] for row in generated[:, ids.shape[1] :].tolist()]
            return completions, None

        def _get_per_token_logps_and_entropies(
            self,
            model,
            input_ids,
            attention_mask,
            logits_to_keep,
            batch_size=None,
            compute_entropy=False,
            compute_aux_loss=False,
            **media,
        ):
            reason = self._full_sequence_needed(model, input_ids.shape[1] - logits_to_keep, compute_aux_loss, media)
            if reason:
                self._fall_back(reason)
                return super()._get_per_token_logps_and_entropies(
                    model,
                    input_ids,
                    attention_mask,
                    logits_to_keep,
                    batch_size,
                    compute_entropy,
                    compute_aux_loss,
                    **media,
                )
            batch_size = batch_size or input_ids.shape[0]  # TRL's chunking, kept for its memory peak
            logps, entropies = [], []
            for start in range(0, input_ids.shape[0], batch_size):
                chunk = (input_ids[start : start + batch_size], attention_mask[start : start + batch_size])
                found = self._shared_prompt_logps(model, *chunk, logits_to_keep, compute_entropy)
                if found is None:
                    found = super()._get_per_token_logps_and_entropies(
                        model, *chunk, logits_to_keep, compute_entropy=compute_entropy
                    )[:2]
                logps.append(found[0])
                entropies.append(found[1])
            return torch.cat(logps), torch.cat(entropies) if compute_entropy else None, None

        def _full_sequence_needed(self, model, prompt_width: int, compute_aux_loss: bool, media: dict) -> str | None:
            """Why this call needs TRL's full-sequence pass, or None."""
            model = self.accelerator.unwrap_model(model)
            peft_config = getattr(model, "active_peft_config", None)
            if any(value is not None for value in media.values()):
                return "multimodal inputs (image features enter the full sequence)"
            if compute_aux_loss:
                return "the MoE load-balancing loss needs the router logits of the full sequence"
            if prompt_width < 2:
                return "prompts of one token"
            if peft_config is not None and peft_config.is_prompt_learning:
                return "prompt-learning PEFT adapters prepend virtual tokens"
            if model.training and getattr(model, "is_gradient_checkpointing", False):
                return "gradient checkpointing (transformers drops the KV cache under it)"
            return None

        def _shared_prompt_logps(self, model, input_ids, attention_mask, logits_to_keep, compute_entropy):
            """(log-probs, entropies or None) of the completion tokens, from each distinct
            prompt's KV cache; None when no two rows share a prompt or no cache came back."""
            width = input_ids.shape[1] - logits_to_keep
            prompts, rows = torch.unique(
                torch.cat([input_ids[:, :width], attention_mask[:, :width]], 1), dim=0, return_inverse=True
            )
            if len(prompts) == len(input_ids):
                self._fall_back("no two rows of a batch share a prompt")
                return None
            with self.accelerator.autocast():
                # the prompt but its last token, whose output predicts the first completion token
                cache = backbone(self.accelerator.unwrap_model(model))(
                    input_ids=prompts[:, : width - 1],
                    attention_mask=prompts[:, width:-1],
                    use_cache=True,
                ).past_key_values
                if not isinstance(cache, Cache) or cache.get_seq_length() != width - 1:
                    self._fall_back(f"{type(model).__name__} returned no KV cache of the prompt")
                    return None
                cache.batch_select_indices(rows)
                tail = input_ids[:, width - 1 :]
                labels = tail.masked_fill(attention_mask[:, width - 1 :] == 0, -100)
                out = model(
                    input_ids=tail,
                    attention_mask=attention_mask,
                    past_key_values=cache,
                    labels=labels,
                    fused_lm_head=True,
                )
            return out.log_probs, out.entropy if compute_entropy else None

    # What TRL's generation batch may hold, and how to pad it when batches are merged:
    # prompts are left-padded, completions (and their per-token values) right-padded.
    left_padded = {"prompt_ids", "prompt_mask"}
    right_padded = {"completion_ids", "completion_mask", "old_per_token_logps", "ref_per_token_logps"}

    class DynamicSamplingGRPOTrainer(GRPOTrainer):
        """GRPOTrainer with DAPO-style dynamic sampling.

        TRL 1.16 has no such option (trl#3708). The subclass changes one thing: after TRL
        generated and scored a generation batch (`_generate_and_score_completions`, which
        `_prepare_inputs` calls once per `steps_per_generation` optimizer steps and
        buffers), groups whose rewards all agree are dropped, and further rounds of the
        same size with fresh prompts from the training set are generated and scored by
        TRL's own code until enough groups with differing rewards fill the batch or
        `max_extra_rounds` is reached. If the cap is reached first, the remaining slots
        keep zero-variance groups (zero advantage: no policy gradient, as without dynamic
        sampling) and are counted. TRL's own metrics (reward, frac_reward_zero_std, ...)
        average over every round, so learnable % still describes all sampled groups.
        """

        def __init__(self, *args, max_extra_rounds: int, draw_seed: list[int], **kwargs):
            super().__init__(*args, **kwargs)
            if self.accelerator.num_processes > 1:
                raise ValueError(
                    "train.dynamic_sampling runs in a single process (its groups are not gathered across processes)"
                )
            self.max_extra_rounds = max_extra_rounds
            self.draw_seed = draw_seed
            self._prompt_texts = [str(p) for p in self.train_dataset["prompt"]]

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            self._last_rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            return self._last_rewards_per_func

        def _groups_with_variance(self) -> torch.Tensor:
            """Per group of the batch just scored: do its total rewards differ? (TRL's own
            weighted sum and zero-std test, `is_std_zero` in _generate_and_score_completions.)"""
            per_func = self._last_rewards_per_func
            rewards = (per_func * self.reward_weights.to(per_func.device).unsqueeze(0)).nansum(dim=1)
            rewards[torch.isnan(per_func).all(dim=1)] = torch.nan  # unscorable completions
            std = torch.nan_to_num(nanstd(rewards.view(-1, self.num_generations), dim=1), nan=0.0)
            return ~torch.isclose(std, torch.zeros_like(std))

        def _fresh_inputs(self, n_groups: int, round_no: int, tried: set[str]) -> list[dict]:
            """Rows of n_groups prompts not yet tried in this step (all prompts once every one
            was), each repeated G times like TRL's RepeatSampler. The draw depends only on
            (seed, level, step, round), so a resumed run draws the same prompts."""
            rng = np.random.default_rng([*self.draw_seed, self.state.global_step, round_no])
            untried = [i for i, text in enumerate(self._prompt_texts) if text not in tried]
            pool = untried if len(untried) >= n_groups else list(range(len(self._prompt_texts)))
            picks = rng.choice(pool, size=n_groups, replace=len(pool) < n_groups)
            tried.update(self._prompt_texts[i] for i in picks)
            return [self.train_dataset[int(i)] for i in picks for _ in range(self.num_generations)]

        def _generate_and_score_completions(self, inputs):
            batch = super()._generate_and_score_completions(inputs)
            if not self.model.training:
                return batch
            unsupported = sorted(
                k
                for k, v in batch.items()
                if v is not None and k not in left_padded | right_padded | {"advantages", "num_items_in_batch"}
            )
            if unsupported:
                raise ValueError(f"train.dynamic_sampling: cannot merge generation batches holding {unsupported}")
            G = self.num_generations
            n_groups = len(inputs) // G
            rounds = [(batch, self._groups_with_variance())]
            tried = {str(x["prompt"]) for x in inputs}
            while sum(int(v.sum()) for _, v in rounds) < n_groups and len(rounds) <= self.max_extra_rounds:
                fresh = self._fresh_inputs(n_groups, len(rounds), tried)
                rounds.append((super()._generate_and_score_completions(fresh), self._groups_with_variance()))
            # Groups with differing rewards first, in the order generated; zero-variance
            # groups only fill what the cap left empty.
            varied = [(r, g) for r, (_, v) in enumerate(rounds) for g in range(len(v)) if v[g]]
            flat = [(r, g) for r, (_, v) in enumerate(rounds) for g in range(len(v)) if not v[g]]
            chosen = (varied + flat)[:n_groups]
            unfilled = max(0, n_groups - len(varied))
            merged = merge_rows(
                [b for b, _ in rounds],
                [(r, g * G + j) for r, g in chosen for j in range(G)],
                pad_token_id=self._tokenizer.pad_token_id,
                left=left_padded,
                right=right_padded,
            )
            self._metrics["train"]["dynamic_sampling/dropped_groups"].append(len(flat) - unfilled)
            self._metrics["train"]["dynamic_sampling/extra_rounds"].append(len(rounds) - 1)
            self._metrics["train"]["dynamic_sampling/unfilled_groups"].append(unfilled)
            return merged

    return GRPOTrainer, SharedPromptGRPOTrainer, DynamicSamplingGRPOTrainer


def merge_rows(
    batches: list[dict], rows: list[tuple[int, int]], pad_token_id: int, left: set[str], right: set[str]
) -> dict:
    """One generation batch made of the given (batch index, row) pairs of several: 2-D
    tensors are padded to a common width (on the left for `left` keys, on the right for
    `right` keys; ids with the pad token, masks and log-probs with 0); advantages are
    concatenated; num_items_in_batch (TRL's loss normalizer) is recounted."""
    merged = {}
    for key in sorted(left | right):
        if batches[0].get(key) is None:
            continue
        width = max(b[key].shape[1] for b in batches)
        value = pad_token_id if key.endswith("_ids") else 0
        padded = []
        for b in batches:
            filler = b[key].new_full((b[key].shape[0], width - b[key].shape[1]), value)
            padded.append(torch.cat([filler, b[key]] if key in left else [b[key], filler], dim=1))
        merged[key] = torch.stack([padded[b][i] for b, i in rows])
    merged["advantages"] = torch.stack([batches[b]["advantages"][i] for b, i in rows])
    merged["num_items_in_batch"] = merged["completion_mask"].sum()
    return merged
