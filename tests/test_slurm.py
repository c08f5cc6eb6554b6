"""The workflow on a real SLURM cluster through profiles/slurm, against a local run.

Needs a running cluster (`bash ../shared/tools/local-slurm.sh start`; .ci/run starts
one); the tests never start it themselves and are skipped without `sinfo`.
"""

import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from workflow_helpers import ROOT, snakemake, test_config, write_config

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(shutil.which("sinfo") is None, reason="no SLURM cluster (sinfo not on PATH)"),
]

TIMEOUT = 1800  # seconds: a job whose end is never noticed would otherwise hang the test run


@pytest.fixture(scope="module", autouse=True)
def cluster_answers():
    if subprocess.run(["sinfo"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("sinfo is installed but no SLURM cluster answers")


def slurm_profile(directory):
    """profiles/slurm with the local cluster's account and partition, checking job states
    after 2 s instead of 40 s; mem_mb of 1000 or more, as a real cluster kills less."""
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    profile["default-resources"] = {"slurm_account": "root", "slurm_partition": "debug", "mem_mb": 1000}
    profile["slurm-init-seconds-before-status-checks"] = 2
    path = directory / "profile"
    path.mkdir()
    (path / "config.yaml").write_text(yaml.safe_dump(profile))
    return path


def test_cluster_run_matches_local_run(tmp_path, tiny_model):
    config = test_config(tiny_model)
    assert all(res["mem_mb"] >= 1000 for res in config["resources"].values())
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    for workdir in (local, cluster):
        workdir.mkdir()
        write_config(workdir, config)
    snakemake(local)
    # both adapter evaluations in one submission, as docs/cluster.md suggests
    result = snakemake(
        cluster, "--group-components", "evaluate_adapter=2", profile=slurm_profile(tmp_path), timeout=TIMEOUT
    )
    out = result.stdout + result.stderr
    assert "has been submitted with SLURM jobid" in out
    assert "slurm_logs/group_evaluate_adapter" in out

    # everything but wall times is deterministic: data, probe samples and pass rates,
    # subsets, predictions, and the report's accuracies and learnable %
    tables = sorted(p.relative_to(local) for p in (local / "results").rglob("*.parquet"))
    assert any(p.name == "pass_rates_k4.parquet" for p in tables) and any(p.parent.name == "subsets" for p in tables)
    for rel in tables:
        pd.testing.assert_frame_equal(pd.read_parquet(cluster / rel), pd.read_parquet(local / rel), obj=str(rel))
    summary = "results/test/report/summary.csv"
    pd.testing.assert_frame_equal(
        pd.read_csv(cluster / summary).drop(columns="wall_seconds"),
        pd.read_csv(local / summary).drop(columns="wall_seconds"),
    )


def test_failing_job_names_its_logs(tmp_path, tiny_model):
    """A submitted job that fails (a probe job: prepare_data is a local rule) names its
    rule log and its SLURM log."""
    scorer = tmp_path / "broken_scorer.py"
    scorer.write_text("def score(completion, gold, row):\n    raise ValueError('broken on purpose')\n")
    config = test_config(tiny_model)
    config["datasets"]["train"]["scorer"] = f"{scorer}:score"
    workdir = tmp_path / "run"
    workdir.mkdir()
    write_config(workdir, config)
    # one attempt is enough to see how a failure is reported
    result = snakemake(workdir, "--retries", "0", check=False, profile=slurm_profile(tmp_path), timeout=TIMEOUT)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    rule_logs = list((workdir / "results" / "probe").rglob("logs/rows*.log"))
    slurm_logs = list((workdir / ".snakemake" / "slurm_logs").glob("rule_probe_*/*/*.log"))
    assert any(str(log.relative_to(workdir)) in out for log in rule_logs)
    assert any(str(log) in out for log in slurm_logs)
    assert "raised ValueError: broken on purpose" in out  # the rule log, shown by show-failed-logs


def test_a_run_of_two_processes_is_one_cluster_job(tmp_path, tiny_model):
    """resources.train.gpu: N runs N training processes inside one sbatch job; here its CPU
    stand-in, train.processes: 2 (gloo): one train submission, whose log holds both."""
    config = test_config(tiny_model)
    config["train"]["processes"] = 2
    config["resources"]["train"]["cpus_per_task"] = 2
    workdir = tmp_path / "run"
    workdir.mkdir()
    write_config(workdir, config)
    run = workdir / "results" / "test" / "train" / "hard" / "seed0"
    snakemake(
        workdir,
        str((run / "train_info.json").relative_to(workdir)),
        "--slurm-keep-successful-logs",
        profile=slurm_profile(tmp_path),
        timeout=TIMEOUT,
    )
    assert len(list((workdir / ".snakemake" / "slurm_logs" / "rule_train_adapter").glob("*/*.log"))) == 1
    log = (workdir / "results" / "test" / "logs" / "train" / "hard-seed0.log").read_text()
    assert "--multi_gpu --num_processes 2" in log
    assert log.count("no checkpoint of these settings: training from step 0") == 2
    assert pd.read_csv(run / "metrics.csv")["step"].tolist() == [1, 2]
