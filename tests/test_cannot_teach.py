"""A study that cannot teach says so (issue 20 item 7): on the tiny model with a one-token
limit every sample is cut, every answer to the three-digit sums is wrong, the subsets are
the same problems, and training sees no reward variance: the console and the report say
each of these instead of showing a clean +0.0."""

import pytest
from workflow_helpers import snakemake, test_config, write_config


@pytest.fixture(scope="module")
def cut_run(tmp_path_factory, tiny_model):
    workdir = tmp_path_factory.mktemp("cannot_teach")
    config = test_config(tiny_model)
    for name in ("train", "test"):  # sums of two 3-digit numbers: no one-token answer is right
        config["datasets"][name].update(levels=[9], per_level={"test": 4, "train": 8})
    config["probe"]["max_new_tokens"] = 1
    config["train"]["max_completion_length"] = 1  # the probe's (probe.allow_sampling_mismatch is false)
    config["evaluate"]["max_new_tokens"] = 1
    config["subsets"] = {"easy": {"strategy": "easy", "budget": 1.0}, "hard": {"strategy": "hard", "budget": 1.0}}
    write_config(workdir, config)
    result = snakemake(workdir)
    return workdir, result.stderr


def test_a_probe_cut_at_its_token_limit_warns_naming_the_key(cut_run):
    workdir, console = cut_run
    warning = "WARNING: 100% of the probe's samples (32 of 32) reached probe.max_new_tokens = 1"
    assert warning in console
    [log] = (workdir / "results" / "probe").rglob("merge_k4.log")
    assert warning in log.read_text()
    assert "samples cut at probe.max_new_tokens = 1 (no end token): 32 of 32 (100%)" in log.read_text()
