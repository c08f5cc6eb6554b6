"""The prompt order of each epoch, the same in a resumed run as in an uninterrupted one.

TRL's RepeatSampler shuffles every epoch with one generator that advances at each pass
(one randperm per __iter__), so a run resumed from a checkpoint in epoch e > 0 (a new
sampler: its first pass is epoch 0's) would train epoch e on epoch 0's order, and from
there on not the uninterrupted run's adapter. EpochOrder wraps the sampler: at the start
of each epoch the Trainer calls set_epoch(e), which reseeds the generator and draws the e
orders before it, so the pass that follows is epoch e's, as in the uninterrupted run.
The TRL members it relies on are listed in compat.py."""

from __future__ import annotations

import torch
from torch.utils.data import Sampler


class EpochOrder(Sampler):
    def __init__(self, sampler):
        self.sampler = sampler

    def set_epoch(self, epoch: int) -> None:
        inner = self.sampler
        if not inner.shuffle:
            return
        inner.generator.manual_seed(inner.seed)
        for _ in range(epoch):  # the orders of the epochs before this one
            torch.randperm(inner.num_samples, generator=inner.generator)

    def __iter__(self):
        return iter(self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)
