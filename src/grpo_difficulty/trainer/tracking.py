"""Experiment tracking of a training run (train.report_to) through transformers' own
tracker integrations, which TRL's GRPOTrainer uses: every metric TRL logs per step
(reward, reward_std, rewards/<function>/mean, frac_reward_zero_std, and the project's
learnable/correctness, logged like them) reaches each tracker.

One tracker run per (subset, seed), named `<subset>-seed<seed>` (a curriculum's levels,
TRL runs of their own, add `-level<i>`), grouped by the experiment name: the Trackio
project, the wandb project and group, the MLflow experiment; TensorBoard writes under
results/<name>/tracking/tensorboard/<run>/. Variables already set in the environment
(WANDB_PROJECT, WANDB_RUN_GROUP, MLFLOW_EXPERIMENT_NAME, MLFLOW_TRACKING_URI, TRACKIO_DIR,
TRACKIO_SPACE_ID, WANDB_MODE, ...) are the user's and win; Trackio logs to a local
project (TRACKIO_DIR) unless TRACKIO_SPACE_ID names a Space, and never freezes one.

Tracking is an execution setting: in no key, no compared rule param and no checkpoint
stamp, so choosing another tracker reruns nothing (rules/common.smk `tracking`).
Torch-free: the Snakefile and the config checks import it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os

from ..config.sections import ConfigError

# tracker name (train.report_to) -> the package transformers' integration needs
TRACKER_PACKAGES = dict(trackio="trackio", tensorboard="tensorboard", wandb="wandb", mlflow="mlflow")


def trackers(report_to: str | list[str]) -> list[str]:
    """train.report_to as a list of tracker names: [] for none."""
    names = [report_to] if isinstance(report_to, str) else list(report_to)
    return [name for name in names if name != "none"]


def check_trackers(report_to: str | list[str]) -> None:
    """`none` stands alone, and each named tracker's package is installed here."""
    names = [report_to] if isinstance(report_to, str) else list(report_to)
    if "none" in names and len(names) > 1:
        raise ConfigError("train.report_to", f"{names}: 'none' cannot be combined with a tracker")
    for name in trackers(report_to):
        if importlib.util.find_spec(TRACKER_PACKAGES[name]) is None:
            raise ConfigError(
                "train.report_to",
                f"{name!r} needs the package {TRACKER_PACKAGES[name]!r}, which is not installed here: "
                f'pip install {TRACKER_PACKAGES[name]} (trackio and tensorboard: pip install -e ".[track]")',
            )


@dataclasses.dataclass(frozen=True)
class Tracking:
    """Where one training run reports: its trackers, the experiment (project) and run
    names, and its TensorBoard folder. A rule param of this type is not compared by
    Snakemake; the train job carries it as a dict (`as_job`)."""

    report_to: tuple[str, ...]
    project: str
    run_name: str
    tensorboard_dir: str

    @classmethod
    def of(cls, report_to: str | list[str], experiment: str, tracking_dir: str, subset, seed) -> Tracking:
        """The tracking of run (subset, seed) of experiment `experiment`, whose tracker
        files go under `tracking_dir` (Layout.tracking)."""
        name = f"{subset}-seed{seed}"
        return cls(tuple(trackers(report_to)), experiment, name, f"{tracking_dir}/tensorboard/{name}")

    @classmethod
    def from_job(cls, job: dict | None) -> Tracking | None:
        return None if job is None else cls(**dict(job, report_to=tuple(job["report_to"])))

    def as_job(self) -> dict:
        return dict(dataclasses.asdict(self), report_to=list(self.report_to))

    def level(self, index: int) -> Tracking:
        """A curriculum level's own tracker run."""
        suffix = f"-level{index}"
        return dataclasses.replace(self, run_name=self.run_name + suffix, tensorboard_dir=self.tensorboard_dir + suffix)

    def arguments(self) -> dict:
        """GRPOConfig's tracking fields: the integrations, the run's name and the Trackio
        project; no static Trackio Space is synced or frozen (a frozen Space takes no more
        logs, and the experiment's other runs still log to it)."""
        if not self.report_to:
            return dict(report_to="none")
        return dict(
            report_to=list(self.report_to),
            run_name=self.run_name,
            project=self.project,
            trackio_static_space_id=False,
        )

    def environment(self) -> dict[str, str]:
        """The variables the integrations read: TensorBoard's folder (always this run's),
        and the experiment as wandb project and group and as MLflow experiment unless the
        environment sets them."""
        env = {}
        if "tensorboard" in self.report_to:
            env["TENSORBOARD_LOGGING_DIR"] = self.tensorboard_dir
        defaults = {}
        if "wandb" in self.report_to:
            defaults.update(WANDB_PROJECT=self.project, WANDB_RUN_GROUP=self.project)
        if "mlflow" in self.report_to:
            defaults.update(MLFLOW_EXPERIMENT_NAME=self.project)
        return {**{k: v for k, v in defaults.items() if k not in os.environ}, **env}


@contextlib.contextmanager
def tracked(tracking: Tracking | None):
    """The block runs with `tracking`'s environment (the integrations read it when the
    trainer is built and when training starts); the environment is restored after it."""
    env = {} if tracking is None else tracking.environment()
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
