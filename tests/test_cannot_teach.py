"""A study that cannot teach says so (issue 20 item 7): on the tiny model with a one-token
limit every sample is cut, every answer to the three-digit sums is wrong, the subsets are
the same problems, and training sees no reward variance: the console and the report say
each of these instead of showing a clean +0.0."""

import json

import pandas as pd
import pytest
import yaml
from workflow_helpers import planned_jobs, snakemake, test_config, write_config

from grpo_difficulty.report.markdown import NO_GRADIENT, NO_GRADIENT_PAIR


@pytest.fixture(scope="module")
def cut_run(tmp_path_factory, tiny_model):
    workdir = tmp_path_factory.mktemp("cannot_teach")
    config = test_config(tiny_model)
    for name in ("train", "test"):  # sums of two 3-digit numbers: no one-token answer is right
        config["datasets"][name].update(levels=[9], per_level={"test": 4, "train": 8})
    config["probe"]["max_new_tokens"] = 1
    config["train"]["max_completion_length"] = 1  # the probe's (probe.allow_sampling_mismatch is false)
    config["evaluate"]["max_new_tokens"] = 1
    config["subsets"] = {"easy": {"strategy": "easy", "budget": 1.0}, "hard": {"strategy": "hard", "budget": 1.0}}
    write_config(workdir, config)
    result = snakemake(workdir)
    return workdir, result.stderr


def test_a_probe_cut_at_its_token_limit_warns_naming_the_key(cut_run):
    workdir, console = cut_run
    warning = "WARNING: 100% of the probe's samples (32 of 32) reached probe.max_new_tokens = 1"
    assert warning in console
    [log] = (workdir / "results" / "probe").rglob("merge_k4.log")
    assert warning in log.read_text()
    assert "samples cut at probe.max_new_tokens = 1 (no end token): 32 of 32 (100%)" in log.read_text()


def test_unlearnable_and_identical_selections_are_named_at_select_time_and_first_in_the_report(cut_run):
    workdir, console = cut_run
    exp = workdir / "results" / "test"
    checks = json.loads((exp / "checks" / "selections.json").read_text())
    assert checks["min_predicted_learnable"] == 5 and len(checks["warnings"]) == 3, checks
    low = [w for w in checks["warnings"] if "is below report.min_predicted_learnable = 5%" in w]
    assert [w.split(":")[0] for w in low] == ["subset easy", "subset hard"]
    same = "subsets easy and hard select the same 8 problems: their runs train on the same data"
    assert same in checks["warnings"][2]
    for warning in checks["warnings"]:
        assert f"WARNING: {warning}" in console  # on the console while selecting
    lines = (exp / "report" / "summary.md").read_text().splitlines()
    assert lines[0].startswith("**Sampling**: ")
    assert lines[2:5] == [f"- **Warning**: {w}" for w in checks["warnings"]]


def test_a_run_without_gradient_is_marked_in_the_summary(cut_run):
    workdir, _ = cut_run
    exp = workdir / "results" / "test"
    for subset in ("easy", "hard"):
        metrics = pd.read_csv(exp / "train" / subset / "seed0" / "metrics.csv")
        assert (metrics["frac_reward_zero_std"] == 1).all() and (metrics["grad_norm"] == 0).all()
    text = (exp / "report" / "summary.md").read_text()
    assert f"{NO_GRADIENT} at every training step of easy seed 0, hard seed 0" in text
    rows = [line for line in text.splitlines() if line.startswith(("| test | easy | easy |", "| test | hard | hard |"))]
    # 2 runs, 2 pooled: the Δ vs base cell (7th) says so instead of +0.0; the base check's
    # drift beside it is a measured +0.0 (no group of either model had reward variance)
    assert len(rows) == 4 and [row.split(" | ")[6] for row in rows] == [NO_GRADIENT] * 4
    assert f"| test | easy | hard | {NO_GRADIENT_PAIR} | no |" in text
    summary = pd.read_csv(exp / "report" / "summary.csv")
    assert summary["no_gradient"].all()


def test_the_threshold_reruns_only_the_check_and_the_report(cut_run):
    workdir, _ = cut_run
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    write_config(workdir, dict(config, report={"min_predicted_learnable": 1}))
    try:
        assert planned_jobs(workdir) == {"check_selections": 1, "report": 1}
    finally:
        write_config(workdir, config)
