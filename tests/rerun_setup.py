"""The completed tiny run of tests/test_rerun_effects.py: the test config with one subset
and two more eval sets (a local file read through `fields`, and one in GSM8K's layout) so
that each loader family's keys have an instance, and the files that the edits of
config/rerun_effects.yaml name (another model folder, a scorer, another data file)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from workflow_helpers import test_config, write_config

# columns of the mapped eval set: those its config maps, and more for the table's edits
MAPPED = [
    dict(
        q=f"What is {a} times {b}?",
        a=str(a * b),
        lvl=1 + a % 2,
        q2=f"Compute {a} * {b}.",
        a2=str(a * b),
        lvl2=0.5 * a,
        subj="times",
        sol="",
        opts=[str(a * b), str(a + b)],
        pr=0.5,
    )
    for a, b in [(2, 3), (3, 5), (4, 4), (6, 2)]
]
GSM8K = [
    dict(
        question=f"How many apples are {a} and {b}?",
        answer=f"{a} plus {b}.\n#### {a + b}",
        q=f"{a} and {b}?",
        a=f"#### {a + b}",
    )
    for a, b in [(1, 2), (3, 3), (2, 5)]
]
SCORER = "def score(completion, gold, row):\n    return float(completion.strip().startswith(gold))\n"


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def prepare(workdir: Path, model_dir: str) -> dict:
    """Write the run's config and data into `workdir`; the config as a dict."""
    _jsonl(workdir / "mapped.jsonl", MAPPED)
    _jsonl(workdir / "mapped2.jsonl", MAPPED[:3])
    _jsonl(workdir / "gsm8k.jsonl", GSM8K)
    (workdir / "scorer.py").write_text(SCORER)
    shutil.copytree(model_dir, workdir / "model_copy")
    config = test_config(model_dir)
    config["datasets"]["mapped"] = dict(
        loader="file", path="mapped.jsonl", fields=dict(question="q", answer="a", tier="lvl")
    )
    config["datasets"]["gsm8k"] = dict(loader="gsm8k_file", path="gsm8k.jsonl")
    config["eval_sets"] = ["test", "mapped", "gsm8k"]
    del config["subsets"]["hard"]  # one subset is instance enough: one training job
    write_config(workdir, config)
    return config


def another_experiment(workdir: Path, config: dict) -> None:
    """After the run: the report another experiment would have (this run's own), so that
    the edit of compare_with plans a comparison."""
    other = workdir / config["results"] / "other" / "report"
    other.mkdir(parents=True)
    shutil.copy(workdir / config["results"] / config["name"] / "report" / "summary.csv", other)
