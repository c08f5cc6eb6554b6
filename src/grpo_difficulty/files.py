"""Atomic writes, stable hashes and path names: every stage writes through these helpers.

Kept free of torch so the Snakefile parses fast."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def stable_hash(obj, length: int = 10) -> str:
    """Hash of a JSON-serialisable object, independent of dict key order."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


EMBEDDED_MODEL = "SmolLM2-135M-Instruct"


def model_folder(model: str) -> str | None:
    """The local folder of a `path:/dir` model spec, as written; None for `embedded` or a hub id."""
    return model.removeprefix("path:") if model.startswith("path:") else None


def model_key(model: str, revision: str | None = None) -> str:
    """Directory-safe name of a model spec (`embedded`, a hub id, or `path:/dir`) and its
    hub revision (named only when set: unset keeps the names of earlier versions)."""
    if revision:
        return f"{model_key(model)}@{revision.replace('/', '--')}"
    if model == "embedded":
        return EMBEDDED_MODEL
    folder = model_folder(model)
    if folder is not None:
        path = Path(folder).resolve()
        return f"{path.name}-{stable_hash(str(path), 6)}"
    return model.replace("/", "--")


def umask_mode() -> int:
    """The mode a plain `open` gives a new file under the user's umask (os.umask is the only
    portable way to read it: set, then restored at once)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic(path: str | Path, write) -> None:
    """Write via a temp file in the same directory and rename: readers never see half a file.
    mkstemp creates the file 0600; it gets the mode any other output gets (the user's umask),
    so that a group sharing results can read them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(target: str | Path):
    """Build a folder under a temporary name and rename it to `target` when the block
    ends without error: a killed job never leaves a folder that looks complete."""
    target = Path(target)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    yield tmp
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


@contextlib.contextmanager
def stop_on_sigterm():
    """SIGTERM (SLURM or Snakemake ending the job) raises SystemExit for the block's duration:
    `finally` blocks run (atomic writes remove their temp files, child processes are
    stopped) and the job exits non-zero, leaving no half-written output."""

    def stop(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


CHECKSUM = "content_sha256"


def content_checksum(df: pd.DataFrame) -> str:
    """Hash of a table's columns and values (its CSV text: independent of dtype details
    such as object vs string columns, which change on a parquet round trip)."""
    return hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write a DataFrame as parquet or csv (by suffix), atomically. Parquet files carry a
    checksum of their contents (pandas keeps `attrs` in the file's metadata), so
    read_table detects a cache file edited or damaged after it was written."""
    if str(path).endswith(".csv"):
        _atomic(path, lambda tmp: df.to_csv(tmp, index=False))
    else:
        df = df.copy()
        df.attrs = {CHECKSUM: content_checksum(df)}
        _atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_text(text: str, path: str | Path) -> None:
    def write(tmp):
        Path(tmp).write_text(text)

    _atomic(path, write)


def write_json(obj, path: str | Path) -> None:
    write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


def read_table(path: str | Path, required: list[str] | None = None) -> pd.DataFrame:
    """Read a table written by write_table: a damaged file, a parquet file whose checksum
    does not match its contents, or missing columns are errors naming the file."""
    regenerate = "delete it and rerun snakemake to regenerate it"
    try:
        df = pd.read_csv(path) if str(path).endswith(".csv") else pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for truncated files
        raise ValueError(f"{path}: cannot be read ({err}); {regenerate}") from err
    if not str(path).endswith(".csv"):
        expected = df.attrs.get(CHECKSUM)
        if expected is None:
            raise ValueError(f"{path}: has no {CHECKSUM} (not written by this workflow); {regenerate}")
        if expected != content_checksum(df):
            raise ValueError(
                f"{path}: contents do not match their checksum (edited or damaged after it was written); {regenerate}"
            )
        df.attrs = {}
    missing = [c for c in (required or []) if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; {regenerate}")
    return df


class log_to:
    """Send this process's stdout and stderr (file descriptors too, so library and C-level
    output and progress bars are captured) to a log file, for a rule's `log:`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __enter__(self):
        import sys

        self.path.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        self.file = open(self.path, "w")
        self.saved = [os.dup(1), os.dup(2)]
        os.dup2(self.file.fileno(), 1)
        os.dup2(self.file.fileno(), 2)
        return self

    def warn(self, message: str) -> None:
        """`message` as a warning in the log and on the console: the stderr this process had
        before `log_to` (a Snakemake job's, which its user sees; a cluster job's log)."""
        import sys

        line = f"WARNING: {message}\n"
        print(line, end="", flush=True)
        sys.stderr.flush()
        os.write(self.saved[1], line.encode())

    def __exit__(self, *exc):
        import sys
        import traceback

        if exc[0] is not None:  # the traceback belongs in the rule's log too
            traceback.print_exception(*exc)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        for fd in self.saved:
            os.close(fd)
        self.file.close()
        return False


# --------------------------------------------------------------------------- GPUs per job
_HELD_GPU_LOCKS: list = []  # open lock files: the locks live as long as this process


def visible_gpus() -> list[str]:
    """GPU ids this process may use: CUDA_VISIBLE_DEVICES if set, else every GPU
    `nvidia-smi -L` lists (none on a machine without NVIDIA driver)."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return [d for d in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return [str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU ")]


HUB_OFF = dict(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")


def hub_offline() -> None:
    """Switch the Hugging Face hub off for this job and every process it starts (training
    processes, vLLM workers): its model is a prepared folder (rule prepare_model), its data
    prepared tables (prepare_data), so a request to the hub can only be a mistake, and it
    fails at once instead of waiting on a compute node without network. huggingface_hub
    reads HF_HUB_OFFLINE when it is imported, so an imported one is switched off too."""
    os.environ.update(HUB_OFF)
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    print("HF_HUB_OFFLINE=1: this job reads the prepared model folder and tables, never the hub")


def use_own_gpus(count: int, rule: str, lock_dir: str | Path | None = None, poll_seconds: float = 2.0) -> list[str]:
    """Make this job see exactly the GPUs it asked for (its `gpu` resource), before
    torch or vLLM initialize CUDA.

    count 0: no GPU at all (CUDA_VISIBLE_DEVICES=""), so a CPU job never lands on a GPU.
    Under SLURM the allocation already holds only this job's devices. Elsewhere
    (`snakemake --resources gpu=N` only counts GPUs, it does not assign them) the job
    takes `count` devices no other job holds, by file locks that the OS releases when
    the process ends, also when it is killed; it waits while all are taken.
    """
    if count == 0:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return []
    if "SLURM_JOB_ID" in os.environ:
        return visible_gpus()
    devices = visible_gpus()
    if len(devices) < count:
        raise RuntimeError(
            f"rule {rule} asks for {count} GPU(s) (config resources.<family>.gpu) but this "
            f"machine shows {len(devices)} ({devices}); set gpu: 0 to run on CPU"
        )
    lock_dir = Path(lock_dir or Path(tempfile.gettempdir()) / f"grpo_difficulty_gpus_{os.getuid()}")
    lock_dir.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        held = []
        for device in devices:
            handle = open(lock_dir / f"gpu-{device}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            held.append((device, handle))
            if len(held) == count:
                _HELD_GPU_LOCKS.extend(h for _, h in held)
                chosen = [d for d, _ in held]
                os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(chosen)
                print(f"{rule}: using GPU(s) {chosen} (locks in {lock_dir})", flush=True)
                return chosen
        for _, handle in held:
            handle.close()  # not enough free: release and wait, never hold a partial set
        if not waited:
            print(f"{rule}: fewer than {count} of GPUs {devices} are free; waiting", flush=True)
            waited = True
        time.sleep(poll_seconds)


def checkpoint_of_step(step: int, level_steps: list[int]) -> tuple[int, int]:
    """(curriculum level, step within that level) of a global training step; without a
    curriculum level_steps is [train.steps] and the answer is (0, step). A step at a
    level's end belongs to that level (its last checkpoint)."""
    start = 0
    for level, steps in enumerate(level_steps):
        if step <= start + steps:
            return level, step - start
        start += steps
    raise ValueError(f"step {step} is past the end of training ({start} steps)")
