"""Each local GPU job sees only the devices it holds (use_own_gpus), with real processes
and file locks; the device list comes from CUDA_VISIBLE_DEVICES as on a GPU machine."""

import os
import signal
import subprocess
import sys

import pytest

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
