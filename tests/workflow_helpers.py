"""Run the real Snakefile on a config in a temporary directory."""

from __future__ import annotations

import re
import subprocess
import sys
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


def snakemake(workdir: Path, *args: str, check: bool = True, profile: Path | None = None,
              timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run the Snakefile in `workdir` (also the cwd: sbatch writes there), optionally with a profile."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "2", *args]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
    return result


def planned_jobs(workdir: Path) -> dict[str, int]:
    """Jobs a dry run would execute, by rule (the `all` target excluded)."""
    out = snakemake(workdir, "-n").stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M))
    return {rule: int(n) for rule, n in jobs.items() if rule != "all"}
