"""Train/eval disjointness is checked once, in a job of its own, before any probe job: an
eval set sharing questions with the training set stops a fresh run in seconds, naming both
datasets by their config keys (the finished run's checks are in test_workflow.py)."""

import time

from workflow_helpers import snakemake, test_config, write_config


def test_an_overlapping_eval_set_stops_the_run_in_the_check_job(tmp_path, tiny_model):
    config = test_config(tiny_model)
    # the first 3 problems per level of the training split: all in the training set
    config["datasets"]["leak"] = dict(config["datasets"]["train"], per_level={"test": 4, "train": 3})
    config["eval_sets"].append("leak")
    write_config(tmp_path, config)
    start = time.monotonic()
    result = snakemake(tmp_path, check=False)
    seconds = time.monotonic() - start
    assert result.returncode != 0
    log = (tmp_path / "results" / "test" / "logs" / "check_disjoint.log").read_text()
    assert (
        "ValueError: eval set datasets.leak shares 6 of its 6 question(s) with the training set "
        "datasets.train (train_set), e.g. " in log
    )
    assert "datasets.test" not in log  # the disjoint eval set is not named
    assert "Error in rule check_disjoint" in result.stdout + result.stderr
    # nothing was probed, trained or evaluated: only the data were prepared
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["data", "logs", "test"]
    assert sorted(p.name for p in (tmp_path / "results" / "test").iterdir()) == ["logs"]
    assert not (tmp_path / "results" / "test" / "checks" / "disjoint.json").exists()
    assert seconds < 120, f"the failing check took {seconds:.0f} s"
