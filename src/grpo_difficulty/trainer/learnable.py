"""The learnable % of correctness: the base of every trainer class of a run, TRL's
GRPOTrainer that also logs, per step, the share of groups whose correctness rewards
differ, and the run's learnable % from the logged steps (beside TRL's figure over the
total reward), and shuffling each epoch's prompts so that a resumed run trains the same
order (epoch_order.py). The TRL members it overrides or reads are listed in compat.py."""

from __future__ import annotations

import pandas as pd
import torch
from trl import GRPOTrainer

from .base_check import BASE_METRIC, base_rewards
from .compat import require_supported_trl
from .epoch_order import EpochOrder

require_supported_trl()

# the reward function (train.rewards key) whose variance makes a group learnable
CORRECTNESS = "correctness"
# the metric in TRL's log history: the learnable % of the report
LEARNABLE_METRIC = "learnable/correctness"


class LearnableGRPOTrainer(GRPOTrainer):
    """GRPOTrainer that logs `learnable/correctness`: of the groups a step scored, the
    share whose correctness rewards are not all equal, i.e. that hold a right and a wrong
    answer. TRL's frac_reward_zero_std tests the weighted total reward instead (format
    and length rewards make groups vary that are all right or all wrong), and with
    scale_rewards batch the batch's std, which is not zero for a group without variance.
    Like TRL's metrics it is the mean over the step's generation batches (and over the
    rounds of dynamic sampling), computed on the rewards gathered from every process, so
    a group split across processes counts once.

    With `base_check`, each generation batch of a training step also logs
    `learnable/base`: the same share for G samples of each of its groups by the base
    model (trainer/base_check.py), from an RNG of its own."""

    def __init__(self, *args, base_check: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.base_check = base_check
        if CORRECTNESS not in self.reward_func_names:
            raise ValueError(
                f"the trainer's reward functions {self.reward_func_names} have no {CORRECTNESS!r}: "
                f"{LEARNABLE_METRIC} cannot be measured"
            )

    def _get_train_sampler(self, dataset=None):
        return EpochOrder(super()._get_train_sampler(dataset))

    def _generate_and_score_completions(self, inputs):
        batch = super()._generate_and_score_completions(inputs)
        if self.base_check and self.model.training:
            rewards = base_rewards(self, inputs, batch, self.reward_func_names.index(CORRECTNESS))
            varied = groups_differ(rewards, self.num_generations)
            counts = torch.tensor([varied.sum(), len(varied)], dtype=torch.float32, device=self.accelerator.device)
            varied, groups = self.accelerator.reduce(counts, reduction="sum").tolist()
            self._metrics["train"][BASE_METRIC].append(varied / groups)
        return batch

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if self.model.training:
            correctness = rewards[:, self.reward_func_names.index(CORRECTNESS)]
            varied = groups_differ(correctness, self.num_generations)
            self._metrics["train"][LEARNABLE_METRIC].append(varied.float().mean().item())
        return rewards


def groups_differ(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """Per group of `group_size` consecutive rows: do its rewards take two values or more?
    NaN (a completion the function did not score) is left out."""
    grouped = rewards.view(-1, group_size)
    highest = torch.nan_to_num(grouped, nan=-torch.inf).amax(dim=1)
    lowest = torch.nan_to_num(grouped, nan=torch.inf).amin(dim=1)
    return highest > lowest


def learnable_pct(metrics: pd.DataFrame) -> float:
    """Share of groups whose correctness rewards differ (a right and a wrong answer: what
    the probe's pass rates predict), in %, whatever the other rewards and scale_rewards."""
    missing = metrics.loc[metrics[LEARNABLE_METRIC].isna(), "step"].tolist()
    if missing:
        raise ValueError(
            f"steps {missing} logged no {LEARNABLE_METRIC}: their checkpoints were written by an older version; "
            "delete the run folder and rerun"
        )
    return round(100.0 * float(metrics[LEARNABLE_METRIC].mean()), 2)


def learnable_base_pct(metrics: pd.DataFrame) -> float | None:
    """The base check's learnable % (train.base_check: the base model's samples of the same
    steps' prompts), in %; None when the run logged none."""
    if BASE_METRIC not in metrics:
        return None
    return round(100.0 * float(metrics[BASE_METRIC].mean()), 2)


def learnable_total_pct(metrics: pd.DataFrame) -> float:
    """TRL's figure: share of groups whose total reward has nonzero std (1 − frac_reward_zero_std,
    over the weighted sum of every reward, per batch with scale_rewards batch), in %."""
    return round(100.0 * (1.0 - float(metrics["frac_reward_zero_std"].mean())), 2)
