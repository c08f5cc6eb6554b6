"""A plugin scorer through the real Snakefile on the tiny model: the training set's scorer
(a file in the working directory) scores the probe's samples and the training rewards and
sees each row's own fields; the eval set's scorer (a second file) scores its evaluations;
editing either file reruns what it scores and nothing else."""

import json

import pandas as pd
from workflow_helpers import planned_jobs, snakemake, test_config, write_config

from grpo_difficulty import tasks

# half a reward for every answer, and only for rows that reach it with the user's own field `uid`
TRAIN_SCORER = 'def half(completion, gold, row):\n    return 0.5 if row["uid"].startswith("user-") else 0.0\n'
# the eval set is procedural arithmetic (no record): its scorer sees the normalized row
EVAL_SCORER = 'def by_tier(completion, gold, row):\n    return row["tier"] == 1\n'


def test_plugin_scorers_score_probe_training_and_evaluation(tmp_path, tiny_model):
    rows = tasks.arithmetic_rows([1, 4], {"test": 4, "train": 6}, "train", 0)
    with open(tmp_path / "mine.jsonl", "w") as f:
        for i, question in enumerate(rows["question"]):
            f.write(json.dumps({"uid": f"user-{i}", "prompt": question, "level": int(rows["tier"][i])}) + "\n")
    (tmp_path / "half.py").write_text(TRAIN_SCORER)
    (tmp_path / "scorers").mkdir()
    (tmp_path / "scorers" / "tier.py").write_text(EVAL_SCORER)
    config = test_config(tiny_model)
    config["datasets"]["train"] = {  # no answer field at all: the scorer needs none
        "loader": "file",
        "path": "mine.jsonl",
        "fields": {"question": "prompt", "id": "uid", "tier": "level"},
        "scorer": "half.py:half",
    }
    config["datasets"]["test"]["scorer"] = "scorers/tier.py:by_tier"
    config["subsets"] = {"easy": {"strategy": "easy", "budget": 4}}
    write_config(tmp_path, config)
    snakemake(tmp_path)

    samples = pd.concat(map(pd.read_parquet, (tmp_path / "results" / "probe").rglob("*_b0.parquet")))
    assert set(samples["reason"]) == {"partial"} and not samples["correct"].any()
    [rates] = (tmp_path / "results" / "probe").rglob("pass_rates_k4.parquet")
    assert (pd.read_parquet(rates)["pass_rate"] == 0).all()  # correct = reward 1: a half is not
    run = tmp_path / "results" / "test" / "train" / "easy" / "seed0"
    metrics = pd.read_csv(run / "metrics.csv")
    assert (metrics["rewards/correctness/mean"] == 0.5).all()
    for model in ("base", "easy/seed0"):
        predictions = pd.read_parquet(tmp_path / "results" / "test" / "eval" / "test" / model / "predictions.parquet")
        assert (predictions["correct"] == (predictions["tier"] == 1)).all()
        assert set(predictions["reason"]) == {"correct", "wrong"}
    export = pd.read_parquet(tmp_path / "results" / "test" / "export" / "data" / "train.parquet")
    assert (
        "uid" in export.columns
        and "scorer: half.py:half" in (tmp_path / "results" / "test" / "export" / "README.md").read_text()
    )

    (tmp_path / "scorers" / "tier.py").write_text(EVAL_SCORER + "# edited\n")
    assert planned_jobs(tmp_path) == {"evaluate_base": 1, "evaluate_adapter": 1, "report": 1}
    (tmp_path / "half.py").write_text(TRAIN_SCORER + "# edited\n")
    plan = planned_jobs(tmp_path)
    assert "prepare_data" not in plan and "prepare_model" not in plan
    assert {"probe_block", "probe_greedy", "probe_merge", "select_subset", "train_adapter", "evaluate_adapter"} <= set(
        plan
    )
