"""Faults: damaged cache files are detected with a message that says how to regenerate
them; a run killed at any stage resumes without redoing finished work."""

import hashlib
import json
import os
import random
import re
import shutil
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file
from workflow_helpers import (
    FinishedFirst,
    planned_jobs,
    running_jobs,
    snakemake,
    snakemake_killed_when,
    test_config,
    write_config,
)

from grpo_difficulty.config.layout import REPORT_TABLES
from grpo_difficulty.files import read_table, write_table


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "pass_rates_k8.parquet"
    write_table(pd.DataFrame({"id": ["a", "b"], "pass_rate": [0.25, 1.0], "tier": [1, 2]}), path)
    return path


def test_a_table_round_trips(table):
    df = read_table(table, required=["id", "pass_rate"])
    assert df["pass_rate"].tolist() == [0.25, 1.0] and df.attrs == {}


def test_truncated_file_is_detected(table):
    data = table.read_bytes()
    table.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="pass_rates_k8.parquet: cannot be read .*delete it and rerun snakemake"):
        read_table(table)


def test_hand_edited_value_is_detected(table):
    df = pd.read_parquet(table)
    df.loc[0, "pass_rate"] = 0.5  # pandas keeps the file's checksum in attrs: now stale
    df.to_parquet(table, index=False)
    with pytest.raises(ValueError, match="do not match their checksum .*delete it and rerun snakemake"):
        read_table(table)


def test_file_rewritten_by_another_tool_is_detected(table):
    pq.write_table(pq.read_table(table).replace_schema_metadata({}), table)
    with pytest.raises(ValueError, match="has no content_sha256"):
        read_table(table)


def test_missing_column_is_named(table):
    with pytest.raises(ValueError, match=r"missing columns \['n_correct'\]"):
        read_table(table, required=["id", "n_correct"])


# --------------------------------------------------------------------------- interruption
def file_digests(root, patterns) -> dict:
    return {
        str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
        for pattern in patterns
        for p in sorted(root.glob(pattern))
    }


DETERMINISTIC = [
    "results/data/*/*.parquet",
    "results/probe/**/*.parquet",
    "results/test/subsets/*",
    "results/test/eval/test/base/*",
]


def fault_config(tiny_model) -> dict:
    """The test config with one subset, one row range to probe in 2 blocks and 4 steps
    (checkpoints at 2 and 4): few jobs, so that many whole runs fit in a test."""
    config = test_config(tiny_model)
    config["subsets"] = {"hard": {"strategy": "hard", "budget": 4}}
    config["train"].update(steps=4, save_steps=2)
    return config


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, tiny_model):
    """An uninterrupted run of fault_config, and its duration in seconds."""
    workdir = tmp_path_factory.mktemp("reference")
    write_config(workdir, fault_config(tiny_model))
    started = time.monotonic()
    snakemake(workdir)
    return workdir, time.monotonic() - started


def test_killed_run_resumes_and_matches_an_uninterrupted_one(tmp_path, tiny_model, reference_run):
    reference_run = reference_run[0]
    """SIGKILL while probing, training and evaluating; each rerun of the same command redoes
    at most the unfinished block / checkpoint interval / evaluation, and the end result is
    the same as a run never interrupted (which also shows determinism across runs)."""
    write_config(tmp_path, fault_config(tiny_model))
    results = tmp_path / "results"

    # 1. probing: a probe job killed mid-block, after another block was written
    def second_block_running():
        started = [log.stem for log in results.glob("probe/**/logs/rows*_b*.log")]
        written = [block.stem for block in results.glob("probe/**/rows*_b*.parquet")]
        return written and set(started) - set(written)

    code = snakemake_killed_when(tmp_path, second_block_running, "--cores", "1")
    assert code != 0  # Snakemake reports the killed job as failed
    finished_blocks = {p: p.stat().st_mtime_ns for p in results.glob("probe/**/rows*_b*.parquet")}
    for block in finished_blocks:
        read_table(block)  # whole files only: written atomically
    assert planned_jobs(tmp_path)["probe_block"] == 2 - len(finished_blocks)

    # 2. training: killed after the step-2 checkpoint, before the 4 steps are done
    checkpoint = results / "test" / "train" / "hard" / "seed0" / "checkpoints" / "checkpoint-2" / "trainer_state.json"
    assert snakemake_killed_when(tmp_path, checkpoint.exists, "--cores", "1") != 0
    assert not (results / "test" / "train" / "hard" / "seed0" / "train_info.json").exists()
    assert all(p.stat().st_mtime_ns == t for p, t in finished_blocks.items())  # not redone

    # 3. evaluation: the machine "crashes" (Snakemake killed with its jobs) during an
    # evaluation; Snakemake's directory lock outlives it, so --unlock once, as its message says
    adapter_eval_log = results / "test" / "logs" / "eval" / "test-hard-seed0.log"
    snakemake_killed_when(tmp_path, adapter_eval_log.exists, "--cores", "1", kill="snakemake")
    assert not (results / "test" / "eval" / "test" / "hard" / "seed0" / "summary.json").exists()
    locked = snakemake(tmp_path, check=False)
    assert locked.returncode != 0 and "cannot be locked" in locked.stdout + locked.stderr
    snakemake(tmp_path, "--unlock")
    assert planned_jobs(tmp_path).get("train") is None  # training finished and is kept

    snakemake(tmp_path)
    assert planned_jobs(tmp_path) == {}
    train_log = (results / "test" / "logs" / "train" / "hard-seed0.log").read_text()
    assert re.search(r"resuming from .*checkpoint-[24]\b", train_log)
    info = json.loads((results / "test" / "train" / "hard" / "seed0" / "train_info.json").read_text())
    assert info["steps"] == 4

    assert file_digests(tmp_path, DETERMINISTIC) == file_digests(reference_run, DETERMINISTIC)
    assert_same_training(tmp_path, reference_run)


def assert_same_training(workdir, reference) -> None:
    """The run's adapter equals the reference's within the resume tolerance (a resumed
    optimizer state round-trips through a file), with the same reward at every step."""
    adapter = "results/test/train/hard/seed0/adapter/adapter_model.safetensors"
    resumed, uninterrupted = load_file(workdir / adapter), load_file(reference / adapter)
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=1e-4, atol=1e-6)
    metrics = [pd.read_csv(d / "results/test/train/hard/seed0/metrics.csv") for d in (workdir, reference)]
    assert metrics[0]["reward"].tolist() == metrics[1]["reward"].tolist()


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_outputs_follow_the_umask(tmp_path, umask):
    """Tables, json and text written atomically get the mode a plain `open` gives under the
    user's umask (mkstemp alone made them 0600, unreadable for the rest of a group)."""
    from grpo_difficulty.files import write_json, write_text

    old = os.umask(umask)
    try:
        write_table(pd.DataFrame({"x": [1]}), tmp_path / "t.parquet")
        write_table(pd.DataFrame({"x": [1]}), tmp_path / "t.csv")
        write_json({"x": 1}, tmp_path / "t.json")
        write_text("x", tmp_path / "t.md")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(old)
    expected = 0o666 & ~umask
    assert (tmp_path / "plain.txt").stat().st_mode & 0o777 == expected
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()}
    assert set(modes.values()) == {oct(expected)}, modes


def test_a_checkpoint_cut_short_is_not_resumed(tmp_path):
    """A job killed while the trainer writes trainer_state.json (its checkpoint's last file,
    written in place) leaves it empty or cut short: the checkpoint before it is resumed."""
    from grpo_difficulty.trainer.checkpoints import last_checkpoint

    for step, state in [(2, '{"global_step": 2}'), (4, '{"global_step": '), (6, "")]:
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-8").mkdir()  # killed before its state was written
    assert last_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")


def test_sigterm_during_a_write_leaves_nothing_half_written(tmp_path):
    """A probe job stopped by SIGTERM (a preempted or cancelled SLURM job) while it writes its
    block: stop_on_sigterm turns the signal into SystemExit, the atomic write removes its temp
    file, no output appears and the job exits non-zero."""
    import subprocess
    import sys

    from grpo_difficulty.train_run import SRC

    out = tmp_path / "rows0-12_b0.parquet"
    script = (
        "import time; from pathlib import Path; from grpo_difficulty import files\n"
        "def write(tmp):\n    Path(tmp).write_text('half a block'); time.sleep(60)\n"
        f"with files.stop_on_sigterm():\n    files._atomic({str(out)!r}, write)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))
    with subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.time() + 30
        while not any(p.read_text() for p in tmp_path.glob(".*.tmp")) and time.time() < deadline:
            time.sleep(0.05)
        proc.terminate()  # SIGTERM
        err = proc.stderr.read()
    assert proc.returncode == 1 and "stopped by signal 15" in err, err
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- randomized crashes
CRASH_KILLS = int(os.environ.get("CRASH_KILLS", 10))


def after(seconds: float):
    """A kill point `seconds` after its first check (made as Snakemake starts)."""
    start = []

    def reached():
        start[:] = start or [time.monotonic()]
        return time.monotonic() - start[0] >= seconds

    return reached


def assert_whole_files(results) -> None:
    """Every table, json file and adapter under its final name is whole: outputs are written
    to a temporary name (.<name>.*.tmp, <folder>.tmp) and renamed. (Files inside the
    trainer's checkpoint-N folders are written in place; train.py resumes only from one
    whose last file is whole.)"""
    for path in results.rglob("*"):
        temporary = [part for part in path.relative_to(results).parts if part.startswith(".") or part.endswith(".tmp")]
        if temporary or any(part.startswith("checkpoint-") for part in path.parts):
            continue
        if path.suffix in (".parquet", ".csv"):
            read_table(path)
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".safetensors":
            load_file(path)


def report_tables(workdir) -> dict[str, str]:
    """The report's tables without wall-clock seconds (the one value a rerun changes):
    summary.csv's wall_seconds column, the last column of summary.md's tables."""
    report = workdir / "results" / "test" / "report"
    tables = {}
    for file in REPORT_TABLES.values():
        if file.endswith(".csv"):
            table = pd.read_csv(report / file).drop(columns="wall_seconds", errors="ignore")
            tables[file] = table.to_csv(index=False)
        else:
            tables[file] = re.sub(r"\|[^|\n]*\|$", "|", (report / file).read_text(), flags=re.M)
    return tables


def test_randomized_crashes_resume_to_the_uninterrupted_result(tmp_path_factory, tiny_model, reference_run):
    """A machine crash at CRASH_KILLS (10) random moments of a whole run: Snakemake and
    every job SIGKILLed at once. After each, the user's rerun: `snakemake --unlock` (the
    directory lock outlives a killed Snakemake), then the same command (profiles/default
    reruns the jobs whose outputs Snakemake marked incomplete). It completes, plans
    nothing more, and matches an uninterrupted run: data, probe, subsets and the base
    evaluation byte for byte, the adapter within the resume tolerance, the report's tables
    equal. No file under a final name is ever half-written. The moments are drawn by
    random.Random(CRASH_SEED) (printed; set it to replay a failure) within the measured
    duration of the uninterrupted run; run with -s to see them and the jobs each kill hit."""
    seed = int(os.environ.get("CRASH_SEED", random.SystemRandom().randrange(10**6)))
    rng = random.Random(seed)
    config = fault_config(tiny_model)
    reference, duration = reference_run
    print(f"\nCRASH_SEED={seed}: uninterrupted run {duration:.1f} s")
    expected = file_digests(reference, DETERMINISTIC), report_tables(reference)

    kills = 0
    for attempt in range(3 * CRASH_KILLS):
        if kills == CRASH_KILLS:
            break
        workdir = tmp_path_factory.mktemp("crash")
        write_config(workdir, config)
        moment = rng.uniform(0, duration)
        started = time.monotonic()
        try:
            snakemake_killed_when(workdir, after(moment), kill="snakemake")
        except FinishedFirst:  # this run was faster: draw later moments within its duration
            duration = time.monotonic() - started
            print(f"attempt {attempt}: finished in {duration:.1f} s, before the kill at {moment:.1f} s")
            continue
        kills += 1
        print(f"kill {kills} at {moment:.1f} s: running {', '.join(running_jobs(workdir)) or 'no job'}", end="")
        assert_whole_files(workdir / "results")
        started = time.monotonic()
        snakemake(workdir, "--unlock")
        snakemake(workdir)
        print(f"; rerun to completion {time.monotonic() - started:.0f} s")
        assert planned_jobs(workdir) == {}
        assert (file_digests(workdir, DETERMINISTIC), report_tables(workdir)) == expected
        assert_same_training(workdir, reference)
        shutil.rmtree(workdir)  # its checkpoints
    assert kills == CRASH_KILLS, f"only {kills} runs lasted until their kill moment"
