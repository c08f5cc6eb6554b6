"""One train job: a training run in this process, or in N data-parallel processes started
with `accelerate launch` (torchrun underneath: NCCL on GPUs, gloo on CPU), and with
train.generation.mode server a vLLM server on GPUs of the job's own allocation, started
before training and stopped after it, also when training fails.

    python -m grpo_difficulty.train_run <job.json>

is one training process; `run` writes the job file and starts them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import parallel, tasks
from .config.sections import PromptConfig, QuantizationConfig, TrainConfig, build
from .config.topology import server_gpus
from .files import read_table, stop_on_sigterm, write_json

SRC = str(Path(__file__).resolve().parents[1])  # the library the processes import


def run(job: dict, processes: int, gpus: list[str]) -> dict:
    """Train and export the step adapters of `job` (model, subset, prompt, train, seed,
    out_dir, export_steps, threads; scorer, quantization, tracking if set) on the
    devices `gpus` (the job's own, [] on CPU); returns train_info. One process and no
    server: in this process; otherwise the processes log to this process's stdout and
    stderr (the rule's log)."""
    train = build(TrainConfig, job["train"], "train.")
    n_server = server_gpus(train)
    if gpus and len(gpus) != processes + n_server:
        raise RuntimeError(
            f"this job holds GPU(s) {gpus}, but its {processes} training process(es) and "
            f"{n_server} vLLM server GPU(s) need {processes + n_server} (resources.train.gpu): "
            "locally, Snakemake lowers a job's gpu to --resources gpu=G (profiles/local: 1); "
            "under SLURM, check that the job step gets every GPU of --gpus"
        )
    if gpus:
        print(f"GPU(s) {gpus}: {n_server} serving vLLM, {processes} training", flush=True)
    if processes == 1 and not n_server:
        return train_job(job)
    spec = Path(job["out_dir"]) / "train_job.json"
    write_json(job, spec)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    with contextlib.ExitStack() as stack:
        stack.enter_context(stop_on_sigterm())
        if n_server:
            server_env = dict(env, CUDA_VISIBLE_DEVICES=",".join(gpus[:n_server]))
            url, group_port = stack.enter_context(vllm_server(job["model"], train, server_env))
            env.update(
                {
                    parallel.VLLM_SERVER_URL: url,
                    parallel.VLLM_GROUP_PORT: str(group_port),
                    "CUDA_VISIBLE_DEVICES": ",".join(gpus[n_server:]),
                }
            )
        command = launch_command(spec, processes, job["threads"], _free_port())
        print("training processes:", " ".join(command), flush=True)
        code = stack.enter_context(_process(command, env)).wait()
        if code:
            raise RuntimeError(
                f"the {processes} training process(es) failed (exit code {code}): their errors are above in this log"
            )
    return json.loads((Path(job["out_dir"]) / "train_info.json").read_text())


def launch_command(spec: Path, processes: int, threads: int, port: int) -> list[str]:
    """`accelerate launch` of `processes` training processes with `threads` torch threads
    each. Several go through accelerate's multi-GPU launcher (torchrun) also on CPU,
    where the process group then uses gloo: accelerate's --cpu launcher runs several
    processes only through MPI."""
    several = ["--multi_gpu"] if processes > 1 else []
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *several,
        "--num_processes",
        str(processes),
        "--num_machines",
        "1",
        "--main_process_port",
        str(port),
        "--num_cpu_threads_per_process",
        str(threads),
        # bf16 comes from GRPOConfig (train.dtype)
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "grpo_difficulty.train_run",
        str(spec),
    ]


def vllm_server_command(model: str, train: TrainConfig, port: int) -> list[str]:
    """`trl vllm-serve`'s command line (vLLM's own server with TRL's weight-transfer and
    logprob settings) for the trained model."""
    from trl.scripts.vllm_serve import ScriptArguments, build_command

    gen = train.generation
    return build_command(
        ScriptArguments(
            model=model,
            host="127.0.0.1",
            port=port,
            tensor_parallel_size=gen.tensor_parallel_size,
            gpu_memory_utilization=gen.gpu_memory_utilization,
            max_model_len=gen.max_model_len,
            dtype="auto" if train.dtype == "auto" else train.dtype,
            log_level="warning",
        )
    )


@contextlib.contextmanager
def vllm_server(model: str, train: TrainConfig, env: dict):
    """A vLLM server for the run, up (answering /health) for the block's duration:
    yields (base URL, port of TRL's weight-update group)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # `trl vllm-serve` sets this too: the weight-transfer endpoints are vLLM dev-mode ones
    with _process(vllm_server_command(model, train, port), dict(env, VLLM_SERVER_DEV_MODE="1")) as server:
        wait_until_healthy(server, url, train.generation.server_timeout)
        yield url, _free_port()


def wait_until_healthy(server: subprocess.Popen, url: str, timeout: float, poll_seconds: float = 2.0) -> None:
    started = time.time()
    while True:
        if server.poll() is not None:
            raise RuntimeError(
                f"the vLLM server exited with code {server.returncode} before answering {url}/health: "
                "its output is above in this log"
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=poll_seconds) as response:
                if response.status == 200:
                    print(f"vLLM server up at {url} after {time.time() - started:.0f} s", flush=True)
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.time() - started > timeout:
            raise RuntimeError(
                f"the vLLM server did not answer {url}/health within {timeout:.0f} s (train.generation.server_timeout)"
            )
        time.sleep(poll_seconds)


@contextlib.contextmanager
def _process(command: list[str], env: dict):
    """A child process in a session of its own (with everything it starts), ended with
    SIGTERM, then SIGKILL after 30 s, when the block exits: also on errors."""
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_job(job: dict) -> dict:
    """The work of one training process (all of it in a run of one)."""
    import torch

    from .train import export_step_adapters, train_adapter
    from .trainer.tracking import Tracking

    torch.set_num_threads(job["threads"])
    train = build(TrainConfig, job["train"], "train.")
    prompt = build(PromptConfig, job["prompt"], "prompt.")
    scorer = tasks.PluginScorer.of(job.get("scorer"))  # the training set's plugin scorer, if any
    quantized = job.get("quantization")  # the base model's bitsandbytes weights (rules/common.smk model_params)
    quantization = None if quantized is None else build(QuantizationConfig, quantized, "quantization.")
    tracking = Tracking.from_job(job.get("tracking"))  # the experiment trackers (rules/common.smk tracking)
    subset = read_table(job["subset"])
    info = train_adapter(
        job["model"], subset, prompt, train, job["seed"], job["out_dir"], scorer, quantization, tracking
    )
    if parallel.is_main_process():
        export_step_adapters(job["out_dir"], job["export_steps"], train)
    return info


def main(argv: list[str]) -> None:
    """One of a run's processes (started by torchrun, which sets RANK, WORLD_SIZE, ...)."""
    import torch
    import torch.distributed as dist

    job = json.loads(Path(argv[0]).read_text())
    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if several:
        # before any training code: the files are written by the main process only
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        train_job(job)
    finally:
        if several:
            dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
