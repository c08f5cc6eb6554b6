"""Faults: damaged cache files are detected with a message that says how to regenerate
them; a run killed at any stage resumes without redoing finished work."""

import hashlib
import json
import os
import re

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file
from workflow_helpers import planned_jobs, snakemake, snakemake_killed_when, test_config, write_config

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
    config = test_config(tiny_model)
    config["subsets"] = {"hard": {"strategy": "hard", "budget": 4}}
    config["train"].update(steps=6, save_steps=2)
    return config


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, tiny_model):
    workdir = tmp_path_factory.mktemp("reference")
    write_config(workdir, fault_config(tiny_model))
    snakemake(workdir)
    return workdir


def test_killed_run_resumes_and_matches_an_uninterrupted_one(tmp_path, tiny_model, reference_run):
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
    assert planned_jobs(tmp_path)["probe_block"] == 4 - len(finished_blocks)

    # 2. training: killed after the step-2 checkpoint, before the 6 steps are done
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
    assert info["steps"] == 6

    assert file_digests(tmp_path, DETERMINISTIC) == file_digests(reference_run, DETERMINISTIC)
    adapter = "results/test/train/hard/seed0/adapter/adapter_model.safetensors"
    resumed, uninterrupted = load_file(tmp_path / adapter), load_file(reference_run / adapter)
    for name, tensor in uninterrupted.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=1e-4, atol=1e-6)
    metrics = [pd.read_csv(d / "results/test/train/hard/seed0/metrics.csv") for d in (tmp_path, reference_run)]
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
