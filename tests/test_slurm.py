"""The workflow on a real SLURM cluster through profiles/slurm, against a local run.

Needs a running cluster (`bash ../shared/tools/local-slurm.sh start`; .ci/run starts
one); the tests never start it themselves and are skipped without `sinfo`.
"""

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import load_file
from workflow_helpers import ROOT, snakemake, snakemake_command, test_config, write_config

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
    data = tmp_path / "bad.jsonl"
    data.write_text('{"question": "What is 2 + 2?", "answer": "2 + 2 = 4\\n#### 4"}\n{"question": "What is 3 + 3?"}\n')
    config = test_config(tiny_model)
    config["datasets"]["bad"] = {"loader": "gsm8k_file", "path": str(data)}
    config["train_set"] = "bad"
    workdir = tmp_path / "run"
    workdir.mkdir()
    write_config(workdir, config)
    # one attempt is enough to see how a failure is reported
    result = snakemake(workdir, "--retries", "0", check=False, profile=slurm_profile(tmp_path), timeout=TIMEOUT)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    [rule_log] = (workdir / "results" / "logs" / "data").glob("bad-*.log")
    [slurm_log] = (workdir / ".snakemake" / "slurm_logs" / "rule_prepare_data").glob("bad_*/*.log")
    assert str(rule_log.relative_to(workdir)) in out and str(slurm_log) in out
    assert (
        f"datasets.bad ({data}) line 2: missing or empty field 'answer'" in out
    )  # the rule log, shown by show-failed-logs


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


def test_a_preempted_train_job_comes_back_and_loses_no_step(tmp_path, tiny_model):
    """A running train job is requeued (`scontrol requeue`: SIGTERM, as for a preemption,
    then SIGKILL after KillWait): it finishes the step in progress, saves a checkpoint of it
    (off the save_steps grid) and exits; SLURM runs the job again, which resumes from that
    checkpoint and trains the adapter of an uninterrupted run on this machine."""
    config = test_config(tiny_model)
    config["train"].update(steps=8, save_steps=4)
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    local.mkdir()
    write_config(local, config)
    run = Path("results/test/train/hard/seed0")
    snakemake(local, "results/test/subsets/hard.parquet")
    shutil.copytree(local, cluster)  # the same probe and subset: only training differs
    snakemake(local, str(run / "train_info.json"))

    rule_log = cluster / "results/test/logs/train/hard-seed0.log"
    command = snakemake_command(cluster, str(run / "train_info.json")) + ["--profile", str(slurm_profile(tmp_path))]
    with open(tmp_path / "snakemake.log", "w") as out:
        proc = subprocess.Popen(command, cwd=cluster, stdout=out, stderr=subprocess.STDOUT)
    try:
        first_attempt = wait_for(lambda: _text(rule_log) if "'reward':" in _text(rule_log) else None, proc)
        [jobid] = re.findall(r"submitted with SLURM jobid (\d+)", (tmp_path / "snakemake.log").read_text())
        subprocess.run(["scontrol", "requeue", jobid], check=True, timeout=30)
        sent = time.time()
        first_attempt = wait_for(lambda: _text(rule_log) if "preempted: stopped" in _text(rule_log) else None, proc)
        assert proc.wait(timeout=TIMEOUT) == 0, (tmp_path / "snakemake.log").read_text()[-5000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    saved = re.search(r"preempted: stopped after step (\d+) of 8 and saved (\S+) \(([\d.]+) s after", first_attempt)
    assert saved, first_attempt
    step = int(saved[1])
    record = json.loads((Path(saved[2]) / "preemption.json").read_text())
    ran = first_attempt.count("'reward':")  # steps the first attempt ran
    resumed = re.findall(r"resuming from \S*checkpoint-(\d+)", rule_log.read_text())
    print(
        f"requeue sent {time.strftime('%H:%M:%S', time.gmtime(sent))} UTC, SIGTERM received {record['signal_utc']} "
        f"in step {step}; checkpoint-{step} saved {saved[3]} s later; the first attempt ran {ran} steps, "
        f"the requeued job resumed from step {resumed}: {ran - int(resumed[0])} step(s) recomputed"
    )
    assert resumed == [str(step)] and ran == step and step % 4 != 0
    assert "no checkpoint of these settings" not in rule_log.read_text()
    adapter = run / "adapter" / "adapter_model.safetensors"
    uninterrupted, after_requeue = load_file(local / adapter), load_file(cluster / adapter)
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(after_requeue[name], tensor, rtol=1e-4, atol=1e-6)
    assert pd.read_csv(cluster / run / "metrics.csv")["reward"].tolist() == (
        pd.read_csv(local / run / "metrics.csv")["reward"].tolist()
    )


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def wait_for(found, proc, timeout: float = 300):
    """found()'s first true value, polled while Snakemake runs."""
    deadline = time.time() + timeout
    while not (value := found()):
        assert proc.poll() is None, f"snakemake exited ({proc.returncode}) first"
        assert time.time() < deadline, "not reached in time"
        time.sleep(0.1)
    return value
