"""Experiment tracking (train.report_to): the tracker settings, and a tracked workflow
run on the tiny model whose TensorBoard event files and local Trackio project are read
back; the network is blocked in every process of the run."""

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import yaml
from workflow_helpers import planned_jobs, snakemake, test_config, write_config

from grpo_difficulty.config.checks import load_config
from grpo_difficulty.config.keys import train_fields
from grpo_difficulty.config.sections import ConfigError
from grpo_difficulty.trainer import arguments, tracking
from grpo_difficulty.trainer.learnable import LEARNABLE_METRIC
from grpo_difficulty.trainer.tracking import Tracking, check_trackers, tracked

# Every socket connection but a local (AF_UNIX) one fails and is written down: trackio
# must log locally, and nothing of a tracked run may reach for the network.
NO_NETWORK = """
import os, socket
with open(os.environ["NETWORK_GUARDED"], "a") as guarded:
    guarded.write(f"{os.getpid()}\\n")
_connect = socket.socket.connect
def _refuse(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        with open(os.environ["NETWORK_ATTEMPTS"], "a") as log:
            log.write(f"{os.getpid()} {address}\\n")
        raise OSError(f"network blocked by the test: {address}")
    return _connect(self, address)
socket.socket.connect = _refuse
"""

TRACKIO_LOGS = """
import json, sys
from trackio.sqlite_storage import SQLiteStorage
project = sys.argv[1]
print(json.dumps({run: SQLiteStorage.get_logs(project, run) for run in SQLiteStorage.get_runs(project)}, default=str))
"""


def test_tracking_of_a_run():
    run = Tracking.of(["tensorboard", "trackio"], "study", "results/study/tracking", "hard", 2)
    assert run.run_name == "hard-seed2" and run.tensorboard_dir == "results/study/tracking/tensorboard/hard-seed2"
    assert run.arguments() == dict(
        report_to=["tensorboard", "trackio"], run_name="hard-seed2", project="study", trackio_static_space_id=False
    )
    assert Tracking.from_job(json.loads(json.dumps(run.as_job()))) == run
    level = run.level(1)
    assert level.run_name == "hard-seed2-level1" and level.tensorboard_dir.endswith("/hard-seed2-level1")
    assert Tracking.of("none", "study", "t", "hard", 2).arguments() == dict(report_to="none")
    assert tracking.trackers("wandb") == ["wandb"] and tracking.trackers(["trackio", "mlflow"]) == ["trackio", "mlflow"]


def test_grpo_config_reports_to_the_trackers(tmp_path):
    from conftest import train_config

    cfg = train_config(dict(steps=2, num_generations=2))
    run = Tracking.of(["tensorboard"], "study", str(tmp_path), "easy", 0)
    args = arguments.grpo_config(cfg, str(tmp_path), 0, [1.0], tracking=run)
    assert (args.report_to, args.run_name, args.project) == (["tensorboard"], "easy-seed0", "study")
    assert arguments.grpo_config(cfg, str(tmp_path), 0, [1.0]).report_to == []  # TrainingArguments' "none"


def test_environment_names_the_experiment_unless_the_user_did(monkeypatch):
    for key in ("WANDB_PROJECT", "WANDB_RUN_GROUP", "MLFLOW_EXPERIMENT_NAME", "TENSORBOARD_LOGGING_DIR"):
        monkeypatch.delenv(key, raising=False)
    run = Tracking.of(["tensorboard", "wandb", "mlflow"], "study", "out", "easy", 0)
    assert run.environment() == dict(
        WANDB_PROJECT="study",
        WANDB_RUN_GROUP="study",
        MLFLOW_EXPERIMENT_NAME="study",
        TENSORBOARD_LOGGING_DIR="out/tensorboard/easy-seed0",
    )
    monkeypatch.setenv("WANDB_PROJECT", "team")
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", "elsewhere")  # every run needs its own folder: ours
    with tracked(run):
        assert os.environ["WANDB_PROJECT"] == "team" and os.environ["WANDB_RUN_GROUP"] == "study"
        assert os.environ["TENSORBOARD_LOGGING_DIR"] == "out/tensorboard/easy-seed0"
    assert "WANDB_RUN_GROUP" not in os.environ and os.environ["TENSORBOARD_LOGGING_DIR"] == "elsewhere"
    assert Tracking.of("none", "study", "out", "easy", 0).environment() == {}


def test_tracker_settings_are_checked(tiny_model, monkeypatch):
    config = test_config(tiny_model)
    for accepted in ("none", "tensorboard", ["trackio", "tensorboard"]):
        config["train"]["report_to"] = accepted
        assert load_config(yaml.safe_load(yaml.safe_dump(config))).train.report_to == accepted
    for wrong in ("comet", ["none"], []):
        config["train"]["report_to"] = wrong
        with pytest.raises(Exception, match="report_to"):
            load_config(yaml.safe_load(yaml.safe_dump(config)))
    with pytest.raises(ConfigError, match=r"train.report_to: \['none', 'trackio'\]: 'none' cannot be combined"):
        check_trackers(["none", "trackio"])
    real = tracking.importlib.util.find_spec
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None if name == "wandb" else real(name))
    with pytest.raises(ConfigError, match="config error at train.report_to: 'wandb' needs the package 'wandb'"):
        check_trackers(["tensorboard", "wandb"])


def test_trackers_are_in_no_training_key(tiny_model):
    config = test_config(tiny_model)
    plain = train_fields(load_config(yaml.safe_load(yaml.safe_dump(config))))
    config["train"]["report_to"] = ["tensorboard", "trackio"]
    assert train_fields(load_config(yaml.safe_load(yaml.safe_dump(config)))) == plain


def trackio_logs(env: dict, project: str) -> dict[str, list[dict]]:
    """The local Trackio project's runs and their logged rows, read by trackio itself
    (in a process of its own: trackio reads TRACKIO_DIR when imported)."""
    out = subprocess.run(
        [sys.executable, "-c", TRACKIO_LOGS, project], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout)


def tensorboard_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_a_tracked_workflow_run_reaches_tensorboard_and_trackio(tmp_path, tiny_model, monkeypatch):
    """snakemake train with report_to [tensorboard, trackio]: one tracker run per subset and
    seed, named after them, in the experiment's Trackio project and TensorBoard folder,
    holding every step's reward and learnable/correctness as metrics.csv has them; no
    process tried the network. Other trackers then rerun nothing."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(NO_NETWORK))
    attempts = tmp_path / "network_attempts.txt"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("NETWORK_ATTEMPTS", str(attempts))
    guarded = tmp_path / "network_guarded.txt"  # the processes that ran with the block
    monkeypatch.setenv("NETWORK_GUARDED", str(guarded))
    monkeypatch.setenv("TRACKIO_DIR", str(tmp_path / "trackio"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for key in ("TRACKIO_SPACE_ID", "TRACKIO_SERVER_URL", "TENSORBOARD_LOGGING_DIR"):
        monkeypatch.delenv(key, raising=False)
    workdir = tmp_path / "run"
    workdir.mkdir()
    config = test_config(tiny_model)
    config["train"]["report_to"] = ["tensorboard", "trackio"]
    # a format and a length reward: a total reward that differs from step to step
    config["train"]["rewards"] = dict(correctness=1.0, format=0.5, length=0.1)
    write_config(workdir, config)
    snakemake(workdir, "train", timeout=900)
    assert not attempts.exists(), attempts.read_text()
    assert len(guarded.read_text().split()) >= 6  # snakemake, its probe and train jobs, ...

    exp = workdir / "results" / "test"
    runs = [f"{subset}-seed{seed}" for subset in config["subsets"] for seed in config["train"]["seeds"]]
    logged = trackio_logs(dict(os.environ), "test")
    assert sorted(logged) == sorted(runs)
    assert sorted(p.name for p in (exp / "tracking" / "tensorboard").iterdir()) == sorted(runs)
    for name in runs:
        subset, seed = name.rsplit("-seed", 1)
        metrics = pd.read_csv(exp / "train" / subset / f"seed{seed}" / "metrics.csv")
        steps = metrics["step"].tolist()
        assert steps == [1, 2]
        scalars = tensorboard_scalars(exp / "tracking" / "tensorboard" / name)
        rows = [row for row in logged[name] if "train/reward" in row]
        assert [row["train/global_step"] for row in rows] == steps
        assert metrics["reward"].ne(0).all()
        metric_names = ["reward", "reward_std", LEARNABLE_METRIC, "rewards/correctness/mean", "rewards/length/mean"]
        for metric in metric_names:
            expected = pytest.approx(metrics[metric].tolist(), abs=1e-6)
            assert [step for step, _ in scalars[f"train/{metric}"]] == steps, metric
            assert [value for _, value in scalars[f"train/{metric}"]] == expected, metric
            assert [row[f"train/{metric}"] for row in rows] == expected, metric
        print(  # the closing note's numbers
            f"{name}: TensorBoard and Trackio hold steps {steps}, reward {metrics['reward'].tolist()}, "
            f"{LEARNABLE_METRIC} {metrics[LEARNABLE_METRIC].tolist()}"
        )

    # the trackers are an execution setting: another choice reruns nothing
    for other in ("none", ["tensorboard"]):
        write_config(workdir, dict(config, train=dict(config["train"], report_to=other)))
        assert planned_jobs(workdir, "train") == {}, other
