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


def test_a_preempted_train_job_comes_back_and_loses_no_step(tmp_path, tiny_model):
    """SLURM stops the running train job twice. First `scontrol requeue`, what a preemption
    does: SIGTERM to every process of the job (the batch shell too), SIGKILL after KillWait;
    SLURM then runs the same job id again and Snakemake keeps following it. Then, in the
    requeued job, `scancel --signal=TERM`, what the profile's --signal=TERM@120 does before a
    time limit: SIGTERM to the job's steps only (srun's step runs Snakemake's job and the
    training process), the batch shell lives on; the job fails and `retries` submits it
    again. Each time the step in progress is finished and saved, the next attempt resumes
    from it, and the final adapter is an uninterrupted run's."""
    config = test_config(tiny_model)
    # rewards that differ within a group (format, length): gradients, so the adapter moves
    config["train"].update(steps=12, save_steps=4, rewards=dict(correctness=1.0, format=0.5, length=0.1))
    local, cluster = tmp_path / "local", tmp_path / "cluster"
    local.mkdir()
    write_config(local, config)
    run = Path("results/test/train/hard/seed0")
    snakemake(local, "results/test/subsets/hard.parquet")
    shutil.copytree(local, cluster)  # the same probe and subset: only training differs
    snakemake(local, str(run / "train_info.json"))

    started = time.time()
    job = ClusterTrainJob(cluster, run, snakemake_command(cluster, str(run / "train_info.json")), tmp_path)
    try:
        requeued = job.interrupt("scontrol", "requeue")
        job.start_requeued_job_now()
        signalled = job.interrupt("scancel", "--signal=TERM")
        assert job.proc.wait(timeout=TIMEOUT) == 0, job.output()[-5000:]
    finally:
        job.stop()
    final_log = (cluster / "results/test/logs/train/hard-seed0.log").read_text()
    interruptions = [(requeued, signalled["log"]), (signalled, final_log)]
    for interrupted, next_log in interruptions:
        interrupted["resumed_from"] = int(re.findall(r"resuming from \S*checkpoint-(\d+)", next_log)[0])
        interrupted["recomputed"] = interrupted["ran_to"] - interrupted["resumed_from"]
        print(  # the closing note's numbers
            f"{interrupted['command']}: sent {interrupted['sent_utc']}, SIGTERM received {interrupted['signal_utc']} "
            f"in step {interrupted['step']}, checkpoint-{interrupted['step']} saved {interrupted['seconds_to_save']} s "
            f"later; that attempt ran to step {interrupted['ran_to']}, the next resumed from step "
            f"{interrupted['resumed_from']}: {interrupted['recomputed']} step(s) recomputed"
        )
        assert interrupted["resumed_from"] == interrupted["step"] and interrupted["recomputed"] <= 1
    print(f"cluster run with both interruptions: {time.time() - started:.0f} s")

    # the requeue kept its job id (SLURM ran it again); the signalled job failed and was resubmitted
    jobids = re.findall(r"submitted with SLURM jobid (\d+)", job.output())
    assert len(jobids) == 2 and jobids[0] == requeued["jobid"] == signalled["jobid"], jobids
    assert job.states(jobids[0]) == ["REQUEUED", "FAILED"] and job.states(jobids[1]) == ["COMPLETED"]
    adapter = run / "adapter" / "adapter_model.safetensors"
    uninterrupted, after = load_file(local / adapter), load_file(cluster / adapter)
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(after[name], tensor, rtol=1e-4, atol=1e-6)
    metrics = {where: pd.read_csv(where / run / "metrics.csv") for where in (local, cluster)}
    assert (metrics[local]["grad_norm"] > 0).all()
    pd.testing.assert_frame_equal(metrics[cluster][["step", "reward"]], metrics[local][["step", "reward"]])


class ClusterTrainJob:
    """Snakemake running one train job on the cluster, with its SLURM job interrupted
    while it trains. A new attempt rewrites the rule's log, so each attempt's log is
    read before the next one starts."""

    def __init__(self, workdir: Path, run: Path, command: list[str], tmp_path: Path):
        self.workdir, self.run = workdir, run
        self.rule_log = workdir / "results/test/logs/train/hard-seed0.log"
        self.snakemake_log = tmp_path / "snakemake.log"
        with open(self.snakemake_log, "w") as out:
            self.proc = subprocess.Popen(
                command + ["--profile", str(slurm_profile(tmp_path))], cwd=workdir, stdout=out, stderr=subprocess.STDOUT
            )
        self.attempt_logs: list[str] = []

    def output(self) -> str:
        return self.snakemake_log.read_text()

    def interrupt(self, *command: str) -> dict:
        """Once the current attempt has finished a step beyond where it started, run
        `command <jobid>`; returns what the attempt logged and saved."""
        first = not self.attempt_logs
        start_line = "no checkpoint of these settings" if first else "resuming from"
        self.wait_for(lambda log: start_line in log and "'reward':" in log)
        jobid = re.findall(r"submitted with SLURM jobid (\d+)", self.output())[-1]
        subprocess.run([*command, jobid], check=True, timeout=30)
        sent = time.time()
        log = self.wait_for(lambda log: "preempted: stopped" in log)
        self.attempt_logs.append(log)
        saved = re.search(r"preempted: stopped after step (\d+) of 12 and saved (\S+) \(", log)
        assert saved, log
        record = json.loads((self.workdir / saved[2] / "preemption.json").read_text())
        resumed = re.findall(r"resuming from \S*checkpoint-(\d+)", log)
        ran = int(resumed[0]) if resumed else 0
        return dict(
            record,
            command=" ".join(command),
            jobid=jobid,
            log=log,
            sent_utc=time.strftime("%H:%M:%S", time.gmtime(sent)),
            ran_to=ran + log.count("'reward':"),  # the steps this attempt logged
        )

    def start_requeued_job_now(self):
        """A requeued job waits for a begin time about two minutes on; let it start now."""
        jobid = re.findall(r"submitted with SLURM jobid (\d+)", self.output())[-1]
        deadline = time.time() + 60
        while (
            subprocess.run(["squeue", "-h", "-j", jobid, "-o", "%t"], capture_output=True, text=True).stdout.strip()
            != "PD"
        ):
            assert time.time() < deadline, "the requeued job never became pending"
            time.sleep(0.5)
        subprocess.run(["scontrol", "update", f"JobId={jobid}", "StartTime=now"], check=True, timeout=30)

    def wait_for(self, found, timeout: float = 600) -> str:
        """The rule log once found(log) is true, polled while Snakemake runs."""
        deadline = time.time() + timeout
        while True:
            log = self.rule_log.read_text() if self.rule_log.exists() else ""
            if found(log):
                return log
            assert self.proc.poll() is None, (
                f"snakemake exited ({self.proc.returncode}) first:\n{self.output()[-3000:]}"
            )
            assert time.time() < deadline, f"not reached in time; rule log:\n{log[-3000:]}"
            time.sleep(0.05)

    def states(self, jobid: str) -> list[str]:
        """The job's states in SLURM's accounting, one per time it ran."""
        out = subprocess.run(
            ["sacct", "-X", "-D", "-n", "-P", "-o", "State", "-j", jobid], capture_output=True, text=True, check=True
        ).stdout
        return [line.split()[0] for line in out.splitlines() if line.strip()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
