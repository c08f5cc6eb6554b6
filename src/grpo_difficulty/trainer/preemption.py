"""Preemption: SIGTERM (SLURM preempting, requeueing or timing out a job, Snakemake or a user
stopping it) ends a training run at the end of the optimizer step it is in, with a checkpoint
of that step, and the job exits with PREEMPTED_EXIT_CODE; the rerun or the requeued job
resumes from that checkpoint (train.train_level resumes from a level's last checkpoint): no
finished step is lost, and the step in progress finishes within SLURM's grace period.
profiles/slurm sends the signal a grace period before a time limit (`--signal`) and lets
SLURM requeue a preempted job."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from transformers import TrainerCallback

from ..files import write_json

PREEMPTED_EXIT_CODE = 75  # EX_TEMPFAIL: a temporary failure; running the job again resumes it
RECORD = "preemption.json"  # in the checkpoint a signal made: when it came, which step it saved


class StopOnSigterm(TrainerCallback):
    """A trainer callback and, as a context manager, the SIGTERM handler it serves: the handler
    only notes the time; at the end of the current optimizer step the callback makes the
    trainer save a checkpoint and stop. With several data-parallel processes every process
    stops at the same step (the earliest step that any of them saw a signal by)."""

    def __init__(self):
        self.signal_time: float | None = None
        self.stopped_step: int | None = None
        self._previous = None

    def __enter__(self):
        self._previous = signal.signal(signal.SIGTERM, self._note)
        return self

    def __exit__(self, *exc):
        signal.signal(signal.SIGTERM, self._previous)
        return False

    def _note(self, signum, frame):
        # only the time: a print here could interrupt another print of this thread
        if self.signal_time is None:
            self.signal_time = time.time()

    def on_step_end(self, args, state, control, **kwargs):
        if _any_process(self.signal_time is not None):
            print(f"SIGTERM at {_utc(self.signal_time)}: saving a checkpoint of step {state.global_step}", flush=True)
            control.should_save = True
            control.should_training_stop = True
            self.stopped_step = state.global_step
        return control

    def exit_if_stopped(self, state, level_dir: Path) -> None:
        """After trainer.train: if the signal stopped training before its last step, record
        it in the checkpoint just saved and exit with PREEMPTED_EXIT_CODE (main process
        writes; every process exits)."""
        from .. import parallel

        if self.stopped_step is None or state.global_step >= state.max_steps:
            return
        checkpoint = Path(level_dir) / f"checkpoint-{self.stopped_step}"
        seconds = None if self.signal_time is None else round(time.time() - self.signal_time, 1)
        if parallel.is_main_process():
            record = dict(signal_utc=_utc(self.signal_time), step=self.stopped_step, seconds_to_save=seconds)
            write_json(record, checkpoint / RECORD)
        print(
            f"preempted: stopped after step {self.stopped_step} of {state.max_steps} and saved {checkpoint} "
            f"({seconds} s after the signal); exiting with code {PREEMPTED_EXIT_CODE}, a rerun resumes from it",
            flush=True,
        )
        raise SystemExit(PREEMPTED_EXIT_CODE)


def preemption_note(checkpoint: str | None) -> str:
    """When a signal made `checkpoint`: " (saved on SIGTERM at <UTC time>, after step N)"; else ""."""
    record = Path(checkpoint or "") / RECORD
    if checkpoint is None or not record.exists():
        return ""
    saved = json.loads(record.read_text())
    return f" (saved on SIGTERM at {saved['signal_utc']}, after step {saved['step']})"


def _any_process(flag: bool) -> bool:
    """`flag` of any data-parallel process (all of them call this at the same step)."""
    import torch
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return flag
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def _utc(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"
