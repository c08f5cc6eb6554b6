"""The dynamic-sampling trainer (DAPO-style: generation groups without reward variance are
replaced by groups of fresh prompts). The TRL members it overrides or reads are listed in
compat.py."""

from __future__ import annotations

import numpy as np
import torch
from trl.trainer.utils import nanstd

from .compat import require_supported_trl
from .learnable import LearnableGRPOTrainer

require_supported_trl()

# What TRL's generation batch may hold, and how to pad it when batches are merged:
# prompts are left-padded, completions (and their per-token values) right-padded.
LEFT_PADDED = frozenset({"prompt_ids", "prompt_mask"})
RIGHT_PADDED = frozenset({"completion_ids", "completion_mask", "old_per_token_logps", "ref_per_token_logps"})


class DynamicSamplingGRPOTrainer(LearnableGRPOTrainer):
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
            if v is not None and k not in LEFT_PADDED | RIGHT_PADDED | {"advantages", "num_items_in_batch"}
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
            left=LEFT_PADDED,
            right=RIGHT_PADDED,
        )
        self._metrics["train"]["dynamic_sampling/dropped_groups"].append(len(flat) - unfilled)
        self._metrics["train"]["dynamic_sampling/extra_rounds"].append(len(rounds) - 1)
        self._metrics["train"]["dynamic_sampling/unfilled_groups"].append(unfilled)
        return merged


def merge_rows(
    batches: list[dict], rows: list[tuple[int, int]], pad_token_id: int, left: frozenset[str], right: frozenset[str]
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
