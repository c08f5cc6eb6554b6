"""Run the real Snakefile on a config in a temporary directory."""

from __future__ import annotations

import contextlib
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


def snakemake_command(workdir: Path, *args: str, configfile: Path | None = None) -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile or workdir / "config.yaml"),
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
    return job_stats(snakemake(workdir, "-n", *targets).stdout)


def job_stats(out: str) -> dict[str, int]:
    """The jobs by rule of a dry run's output (its "Job stats" table, `all` excluded)."""
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


class ForkedDryRuns:
    """Dry runs of many configs in one working directory, each forked from this process
    after it imported Snakemake and ran one dry run itself (so the imports and plugin
    registries are loaded once): about 1 s a run instead of a fresh process's 3.6 s.
    Each run is Snakemake's own command line (snakemake.cli.main) in the child."""

    def __init__(self, workdir: Path, parallel: int = 2):
        import snakemake.cli

        self.workdir, self.parallel, self.main = workdir, parallel, snakemake.cli.main
        self._run(workdir / "config.yaml", workdir / "warmup.out")  # in this process: warm

    def _args(self, configfile: Path) -> list[str]:
        return snakemake_command(self.workdir, "-n", configfile=configfile)[3:]  # without python -m snakemake

    def _run(self, configfile: Path, out: Path) -> int:
        """One dry run here, its output in `out` (Python's streams, which pytest replaces,
        and the file descriptors); Snakemake's exit code."""
        cwd = os.getcwd()  # Snakemake changes into --directory
        with open(out, "w") as stream, contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            saved = os.dup(1), os.dup(2)
            os.dup2(stream.fileno(), 1), os.dup2(stream.fileno(), 2)
            try:
                self.main(self._args(configfile))
            except SystemExit as exit:
                return exit.code if isinstance(exit.code, int) else 1
            finally:
                stream.flush()
                os.dup2(saved[0], 1), os.dup2(saved[1], 2)
                os.close(saved[0]), os.close(saved[1])
                os.chdir(cwd)
        return 0

    def plans(self, configs: dict[str, dict]) -> dict[str, dict[str, int] | str]:
        """Each config's planned jobs by rule (job_stats), or the run's output where it failed."""
        folder = self.workdir / "dry_runs"
        folder.mkdir(exist_ok=True)
        pending, running, results = list(configs), {}, {}
        while pending or running:
            while pending and len(running) < self.parallel:
                name = pending.pop(0)
                path = folder / f"{len(results) + len(running)}.yaml"
                path.write_text(yaml.safe_dump(configs[name], sort_keys=False))
                pid = os.fork()
                if pid == 0:  # the child: one dry run, then out without any cleanup of ours
                    os._exit(self._run(path, path.with_suffix(".out")))
                running[pid] = name, path
            pid, status = os.wait()
            name, path = running.pop(pid)
            out = path.with_suffix(".out").read_text()
            planned = os.waitstatus_to_exitcode(status) == 0 and ("Job stats:" in out or "Nothing to be done" in out)
            results[name] = job_stats(out) if planned else out[-3000:] or "no output"
        return results
