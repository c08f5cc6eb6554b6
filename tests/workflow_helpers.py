"""Run the real Snakefile on a config in a temporary directory."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_config(model_dir: str) -> dict:
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["model"] = f"path:{model_dir}"
    return config


test_config.__test__ = False  # a helper: pytest would collect it wherever it is imported


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "config.yaml"),
        "--cores",
        "2",
        *args,
    ]


def snakemake(
    workdir: Path, *args: str, check: bool = True, profile: Path | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess:
    """Run the Snakefile in `workdir` (also the cwd: sbatch writes there), optionally with a profile."""
    cmd = snakemake_command(workdir, *args)
    if profile is not None:
        cmd += ["--profile", str(profile)]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )
    return result


def planned_jobs(workdir: Path, *targets: str) -> dict[str, int]:
    """Jobs a dry run (of `targets`, default: the default target) would execute, by rule
    (the `all` target excluded)."""
    out = snakemake(workdir, "-n", *targets).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M))
    return {rule: int(n) for rule, n in jobs.items() if rule != "all"}


def planned_outputs(workdir: Path) -> set[str]:
    """Output paths of the jobs a dry run would execute."""
    out = snakemake(workdir, "-n").stdout
    return {path for line in re.findall(r"^\s+output: (.+)$", out, re.M) for path in line.split(", ")}


class FinishedFirst(AssertionError):
    """Snakemake exited before the kill point was reached."""


def snakemake_killed_when(workdir: Path, reached, *args: str, kill: str = "job", timeout: float = 600) -> int:
    """Run the Snakefile and SIGKILL as soon as `reached()` is true: kill="job" kills the
    running job's process (the OOM killer, a preempted node), kill="snakemake" kills
    Snakemake's process group, its jobs included, at once (a crashed machine; no process
    of it survives). Returns Snakemake's exit code."""
    import psutil

    proc = subprocess.Popen(
        snakemake_command(workdir, *args),
        cwd=workdir,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + timeout
    try:
        while not reached():
            if proc.poll() is not None:
                raise FinishedFirst(f"snakemake exited ({proc.returncode}) before the kill point")
            if time.time() > deadline:
                raise AssertionError("kill point not reached in time")
            time.sleep(0.02)
        if kill == "snakemake":
            processes = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            os.killpg(proc.pid, signal.SIGKILL)
            _, alive = psutil.wait_procs(processes, timeout=30)
            assert not alive, f"processes outlived the kill of Snakemake's process group: {alive}"
        else:
            jobs = [
                p
                for p in psutil.Process(proc.pid).children(recursive=True)
                if any("/.snakemake/scripts/" in part for part in p.cmdline())
            ]
            assert jobs, "no running job to kill"
            for job in jobs:
                job.send_signal(signal.SIGKILL)
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def running_jobs(workdir: Path) -> list[str]:
    """Jobs that Snakemake's latest log shows started and not finished, as "rule(wildcards)"."""
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"), key=os.path.getmtime)
    if not logs:
        return []  # killed before it logged anything (still building the DAG)
    text = logs[-1].read_text()
    started = {}
    for rule, body in re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):\n((?:[ \t]+.*\n?)*)", text, re.M):
        jobid = re.search(r"jobid: (\d+)", body)
        wildcards = re.search(r"wildcards: (.*)", body)
        if jobid and rule != "all":
            started[jobid[1]] = f"{rule}({wildcards[1]})" if wildcards else rule
    for jobid in re.findall(r"^Finished jobid: (\d+)", text, re.M):
        started.pop(jobid, None)
    return sorted(started.values())
