"""Each local GPU job sees only the devices it holds (use_own_gpus), with real processes
and file locks; the device list comes from CUDA_VISIBLE_DEVICES as on a GPU machine. Where
CUDA is present, the GPU check's study (config/experiments/gpu-smoke.yaml, run by
benchmarks/gpu_check.sh) end to end, and the contract of its outputs."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from workflow_helpers import ROOT, planned_jobs, snakemake, write_config

from grpo_difficulty.files import use_own_gpus

JOB = """
import os, sys, time
from grpo_difficulty.files import use_own_gpus
use_own_gpus(int(sys.argv[1]), "train", sys.argv[2], poll_seconds=0.05)
print("visible", os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
time.sleep(60)
"""


def start_job(gpus: int, lock_dir, devices: str) -> subprocess.Popen:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES=devices)
    env.pop("SLURM_JOB_ID", None)
    return subprocess.Popen(
        [sys.executable, "-c", JOB, str(gpus), str(lock_dir)], env=env, stdout=subprocess.PIPE, text=True
    )


def visible(job: subprocess.Popen) -> str:
    line = job.stdout.readline().split()
    while line and line[0] != "visible":  # use_own_gpus's own messages
        line = job.stdout.readline().split()
    return line[1] if len(line) > 1 else ""


def test_concurrent_jobs_get_different_devices_and_a_killed_job_frees_its_own(tmp_path):
    first, second = start_job(1, tmp_path, "0,1"), start_job(1, tmp_path, "0,1")
    third = None
    try:
        held = {visible(first), visible(second)}
        assert held == {"0", "1"}
        pair_job = start_job(2, tmp_path, "0,1")  # needs both: waits
        third = pair_job
        with pytest.raises(subprocess.TimeoutExpired):
            pair_job.wait(timeout=1.0)
        first.send_signal(signal.SIGKILL)
        first.wait()
        second.send_signal(signal.SIGKILL)
        second.wait()
        assert visible(pair_job) == "0,1"  # the OS released the killed jobs' locks
    finally:
        for job in (first, second, third):
            if job is not None:
                job.kill()
                job.wait()


def test_cpu_job_sees_no_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert use_own_gpus(0, "probe_block") == []
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""


def test_asking_for_more_gpus_than_the_machine_has_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with pytest.raises(RuntimeError, match=r"rule train asks for 2 GPU\(s\) .*resources.<family>.gpu.* shows 1"):
        use_own_gpus(2, "train", tmp_path)


def test_slurm_allocation_is_used_as_given(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert use_own_gpus(1, "train", tmp_path) == ["3"]
    assert not list(tmp_path.iterdir())  # no local locks under SLURM


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: benchmarks/gpu_check.sh runs it there")
def test_gpu_smoke_study(tmp_path):
    """gpu-smoke.yaml on the GPU: the HF probe in bfloat16, 20 training steps per subset in
    bfloat16 with gradient checkpointing, shared prompts and the paged 8-bit AdamW, each
    adapter evaluated, the report. GPU_SMOKE_KEEP names a folder to keep it in."""
    workdir = Path(os.environ.get("GPU_SMOKE_KEEP", tmp_path))
    workdir.mkdir(parents=True, exist_ok=True)
    run_smoke_study(workdir, yaml.safe_load((ROOT / "config" / "experiments" / "gpu-smoke.yaml").read_text()))


def run_smoke_study(workdir: Path, config: dict) -> None:
    """Run the smoke study's config in `workdir` and check its outputs' contract."""
    write_config(workdir, config)
    snakemake(workdir, "--scheduler", "greedy")  # the ILP scheduler's pulp does not travel
    exp, train, k = workdir / "results" / config["name"], config["train"], config["probe"]["k"]
    data = config["datasets"][config["train_set"]]
    rates = pd.read_parquet(next((workdir / "results" / "probe").rglob(f"pass_rates_k{k}.parquet")))
    assert len(rates) == len(data["levels"]) * data["per_level"]["train"]
    assert rates["n_correct"].between(0, k).all() and rates["n_correct"].sum() > 0
    base = json.loads((exp / "eval" / "arith_test" / "base" / "summary.json").read_text())
    assert 0 < base["accuracy"] < 1
    for subset in config["subsets"]:
        run = exp / "train" / subset / "seed0"
        assert json.loads((run / "train_info.json").read_text())["steps"] == train["steps"]
        assert pd.read_csv(run / "metrics.csv")["step"].tolist() == list(range(1, train["steps"] + 1))
        assert (run / "adapter" / "adapter_model.safetensors").exists()
        if "8bit" in train["optim"]:  # bitsandbytes' 8-bit optimizer ran: its moments are uint8 blocks
            last = max((run / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
            state = torch.load(last / "optimizer.pt", weights_only=False)["state"]  # bitsandbytes 0.50 nests it
            moments = [s.get("__bnb_optimizer_quant_state__", s) for s in state.values()]
            assert any(t.dtype == torch.uint8 for m in moments for t in m.values() if torch.is_tensor(t))
        adapter = json.loads((exp / "eval" / "arith_test" / subset / "seed0" / "summary.json").read_text())
        assert 0 <= adapter["accuracy"] <= 1
    summary = pd.read_csv(exp / "report" / "summary.csv")
    assert set(summary["subset"]) == set(config["subsets"]) and (summary["steps"] == train["steps"]).all()
    assert planned_jobs(workdir) == {}
