"""The shared-prompt trainer: the G completions of a group are generated from one prefill
of their prompt, and the loss pass runs each distinct prompt once, its KV cache copied to
the group's rows. The TRL members it overrides or reads are listed in compat.py."""

from __future__ import annotations

import torch
from transformers import Cache
from trl.models import unwrap_model_for_generation

from ..generation.prefill import backbone, generate_rows
from .compat import require_supported_trl
from .learnable import LearnableGRPOTrainer
from .prompt_cache import modules_set, read_only

require_supported_trl()


class SharedPromptGRPOTrainer(LearnableGRPOTrainer):
    """GRPOTrainer that processes each group's prompt once instead of G times.

    Generation (TRL's transformers path): the distinct prompts of a generation batch
    share their common prefix and each is prefilled once (`generation.prefill.shared_prefill`,
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

    Whatever generated the completions (this path, vLLM, a rollout function), the loss
    pass is this one. Under gradient checkpointing the prompt pass runs once per group
    with its activations kept, and the completion pass is checkpointed layer by layer
    over a read-only view of the prompt cache (`prompt_cache`), which the recompute in
    the backward pass reads again.

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
        if self.use_vllm:  # vLLM's prefix cache shares the prompts; the loss pass is still ours
            return super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, has_tool_images
            )
        reason = (
            "transformers continuous batching generates"
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
            completions = generate_rows(
                model, list(index), rows, self._tokenizer.pad_token_id, self.generation_config, self.eos_token_ids
            )
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
        if self._checkpointing(model) and (self.args.gradient_checkpointing_kwargs or {}).get("use_reentrant"):
            return "reentrant gradient checkpointing (each layer's backward would run the prompt pass's again)"
        return None

    @staticmethod
    def _checkpointing(model) -> bool:
        """Does this pass checkpoint the model's layers (training mode, checkpointing on)?"""
        return model.training and getattr(model, "is_gradient_checkpointing", False)

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
        unwrapped = self.accelerator.unwrap_model(model)
        checkpointing = self._checkpointing(unwrapped)
        with self.accelerator.autocast():
            # the prompt but its last token, whose output predicts the first completion token;
            # under checkpointing too it runs once, its activations kept (1/G of the rows)
            with modules_set(unwrapped, gradient_checkpointing=False):
                cache = backbone(unwrapped)(
                    input_ids=prompts[:, : width - 1],
                    attention_mask=prompts[:, width:-1],
                    use_cache=True,
                ).past_key_values
            if not isinstance(cache, Cache) or cache.get_seq_length() != width - 1:
                self._fall_back(f"{type(model).__name__} returned no KV cache of the prompt")
                return None
            cache.batch_select_indices(rows)
            if checkpointing and read_only(cache) is None:
                self._fall_back(f"{type(model).__name__}'s cache layers are not plain DynamicLayers (checkpointing)")
                return None
            tail = input_ids[:, width - 1 :]
            labels = tail.masked_fill(attention_mask[:, width - 1 :] == 0, -100)
            # checkpointed layers keep the (read-only) prompt cache: their recompute reads it again
            with modules_set(unwrapped, _can_checkpoint_with_cache=checkpointing):
                out = model(
                    input_ids=tail,
                    attention_mask=attention_mask,
                    past_key_values=cache,
                    labels=labels,
                    fused_lm_head=True,
                )
        return out.log_probs, out.entropy if compute_entropy else None
