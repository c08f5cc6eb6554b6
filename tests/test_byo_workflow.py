"""Bring your own dataset through the real Snakefile: a file the test writes with its own
field names, ids and difficulty labels goes prepare → probe → select, and the user's ids
and tiers come out in the probe table and the subsets; shipped pass rates skip the probe."""

import json

import pandas as pd
import pytest
from workflow_helpers import planned_jobs, snakemake, test_config, write_config

from grpo_difficulty import tasks

USER_FIELDS = {"question": "prompt", "answer": "target", "id": "uid", "tier": "difficulty"}


def write_user_file(path, with_pass_rate=False):
    """The test config's training problems in a user's own schema: string ids, integer
    answers, difficulty labels 1-2 standing for the generator's levels 1 and 4."""
    rows = tasks.arithmetic_rows([1, 4], {"test": 4, "train": 6}, "train", 0)
    with open(path, "w") as f:
        for i, (question, gold, tier) in enumerate(rows[["question", "gold", "tier"]].values):
            record = {
                "uid": f"user-{100 + i}",
                "prompt": question,
                "target": int(gold),
                "difficulty": {1: "1", 4: "2"}[tier],
            }
            if with_pass_rate:
                record["stats"] = {"solved": i % 5}  # correct answers out of 4, as an author measured them
            f.write(json.dumps(record) + "\n")
    return [f"user-{100 + i}" for i in range(len(rows))]


def byo_config(tiny_model, workdir, **dataset_keys):
    config = test_config(tiny_model)
    config["datasets"]["train"] = {
        "loader": "file",
        "path": str(workdir / "mine.jsonl"),
        "fields": dict(USER_FIELDS),
        **dataset_keys,
    }
    return config


def test_prepare_probe_select_keep_the_users_ids_and_tiers(tmp_path, tiny_model):
    ids = write_user_file(tmp_path / "mine.jsonl")
    write_config(tmp_path, byo_config(tiny_model, tmp_path))
    snakemake(tmp_path, "results/test/subsets/easy.parquet", "results/test/subsets/hard.parquet")
    [data] = (tmp_path / "results" / "data" / "train").glob("*.parquet")
    table = pd.read_parquet(data)
    assert table["id"].tolist() == ids and table["tier"].value_counts().to_dict() == {1: 6, 2: 6}
    [rates] = (tmp_path / "results" / "probe").rglob("pass_rates_k4.parquet")
    rates = pd.read_parquet(rates)
    assert sorted(rates["id"]) == sorted(ids) and (rates["k"] == 4).all()
    assert rates.set_index("id")["tier"].to_dict() == table.set_index("id")["tier"].to_dict()
    exp = tmp_path / "results" / "test" / "subsets"
    easy, hard = pd.read_parquet(exp / "easy.parquet"), pd.read_parquet(exp / "hard.parquet")
    assert set(easy["id"]) <= set(ids) and len(easy) == 4 and len(hard) == 3
    assert easy["pass_rate"].min() >= hard["pass_rate"].max()
    assert set(easy["tier"]) <= {1, 2}
    assert json.loads((exp / "easy.json").read_text())["difficulty"] == "probe"
    [log] = (tmp_path / "results" / "logs" / "data").glob("train-*.log")
    assert f"datasets.train ({tmp_path / 'mine.jsonl'}): skipped 0 bad row(s)" in log.read_text()
    # the file is the rule's input: editing it prepares and probes again
    with open(tmp_path / "mine.jsonl", "a") as f:
        f.write("\n")
    assert {"prepare_data", "select_subset"} <= set(planned_jobs(tmp_path))


def test_shipped_pass_rates_replace_the_probe_and_the_report_says_so(tmp_path, tiny_model):
    write_user_file(tmp_path / "mine.jsonl", with_pass_rate=True)
    config = byo_config(tiny_model, tmp_path, pass_rate_scale=4)
    config["datasets"]["train"]["fields"]["pass_rate"] = "stats.solved"
    write_config(tmp_path, config)
    plan = planned_jobs(tmp_path)
    assert "probe_block" not in plan and "probe_greedy" not in plan and "probe_merge" not in plan
    snakemake(tmp_path)
    exp = tmp_path / "results" / "test"
    easy = pd.read_parquet(exp / "subsets" / "easy.parquet")
    assert (easy["pass_rate"] == 1.0).sum() == 2 and (easy["pass_rate"] >= 0.75).all()
    assert json.loads((exp / "subsets" / "easy.json").read_text())["difficulty"] == "shipped"
    assert not (tmp_path / "results" / "probe").exists()
    summary = (exp / "report" / "summary.md").read_text()
    assert (
        "**Difficulty source** (training subsets were selected by): shipped with the data: field "
        "'stats.solved' of training set 'train', no probe" in summary
    )
    assert set(pd.read_csv(exp / "report" / "summary.csv")["difficulty"]) == {
        "shipped with the data: field 'stats.solved' of training set 'train', no probe"
    }
    assert (exp / "report" / "pass_rates.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c["datasets"]["train"]["fields"].update(answer="answer_text"),
            "config error at datasets.train.fields.answer: 'answer_text' is not a column of {path}; its columns: "
            "uid, prompt, target, difficulty",
        ),
        (
            lambda c: c["datasets"]["train"].update(path="{dir}/missing-*.jsonl"),
            "config error at datasets.train.path: no dataset file matches {dir}/missing-*.jsonl",
        ),
        (lambda c: c["datasets"]["train"].update(answer_format="latex"), "'latex' is not one of"),
        (lambda c: c["datasets"]["train"]["fields"].update(difficulty="d"), "Additional properties are not allowed"),
        (
            lambda c: (
                c["datasets"]["train"]["fields"].update(pass_rate="difficulty"),
                c["subsets"].update(w={"strategy": "base_wrong"}),
            ),
            "config error at subsets.w.strategy: base_wrong needs the"
            " probe's greedy answers, but the training set ships "
            "its difficulty (datasets.train.fields.pass_rate)",
        ),
    ],
)
def test_bad_mapping_fails_before_any_job(tmp_path, tiny_model, change, message):
    write_user_file(tmp_path / "mine.jsonl")
    config = byo_config(tiny_model, tmp_path)
    change(config)
    config["datasets"]["train"]["path"] = config["datasets"]["train"]["path"].format(dir=tmp_path)
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "-n", check=False)
    assert result.returncode != 0
    assert message.format(path=tmp_path / "mine.jsonl", dir=tmp_path) in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_bad_row_stops_prepare_data_naming_file_row_and_fields(tmp_path, tiny_model):
    write_user_file(tmp_path / "mine.jsonl")
    with open(tmp_path / "mine.jsonl", "a") as f:
        f.write(json.dumps({"uid": "user-999", "question": "What is 1 + 1?", "target": 2, "difficulty": 1}) + "\n")
    write_config(tmp_path, byo_config(tiny_model, tmp_path))
    assert snakemake(tmp_path, "--until", "prepare_data", check=False).returncode != 0
    [log] = (tmp_path / "results" / "logs" / "data").glob("train-*.log")
    named = f"datasets.train ({tmp_path / 'mine.jsonl'})"
    assert (
        f"{named} line 13: missing or empty field 'prompt' (fields.question; this row has "
        "fields 'uid', 'question', 'target', 'difficulty')"
    ) in log.read_text()
    config = byo_config(tiny_model, tmp_path, bad_rows="skip")
    write_config(tmp_path, config)
    snakemake(tmp_path, "--until", "prepare_data")
    [log] = [p for p in (tmp_path / "results" / "logs" / "data").glob("train-*.log") if "skipped" in p.read_text()]
    assert f"{named}: skipped 1 bad row(s)\n{named} line 13: " in log.read_text()


def test_multiple_choice_file_with_its_options_in_a_field(tmp_path, tiny_model):
    """ARC's layout, nested: the options are listed after the question, the label answers
    become option letters, and the text difficulty labels are the tiers, through the real
    prepare, probe and select jobs."""
    with open(tmp_path / "quiz.jsonl", "w") as f:
        for i in range(12):
            options = {"text": [str(i), str(i + 1), str(i + 2)], "label": ["1", "2", "3"]}
            record = {
                "item": {"stem": f"What is {i} + 1?", "options": options},
                "key": "2",
                "grade": ["easy", "hard"][i % 2],
            }
            f.write(json.dumps(dict(record, code=f"quiz-{i}")) + "\n")
    config = test_config(tiny_model)
    fields = {"question": "item.stem", "choices": "item.options", "answer": "key", "id": "code", "tier": "grade"}
    config["datasets"]["train"] = {
        "loader": "file",
        "path": str(tmp_path / "quiz.jsonl"),
        "fields": fields,
        "tier_labels": ["easy", "hard"],
    }
    write_config(tmp_path, config)
    snakemake(tmp_path, "results/test/subsets/easy.parquet")
    [data] = (tmp_path / "results" / "data" / "train").glob("*.parquet")
    table = pd.read_parquet(data).set_index("id")
    assert set(table["gold"]) == {"(B)"} and set(table["answer_type"]) == {"choice"}
    assert table.at["quiz-3", "question"] == "What is 3 + 1?\nOptions:\n(A) 3\n(B) 4\n(C) 5"
    assert table["tier"].to_dict() == {f"quiz-{i}": i % 2 + 1 for i in range(12)}
    [rates] = (tmp_path / "results" / "probe").rglob("pass_rates_k4.parquet")
    assert sorted(pd.read_parquet(rates)["id"]) == sorted(table.index)
    easy = pd.read_parquet(tmp_path / "results" / "test" / "subsets" / "easy.parquet")
    assert len(easy) == 4 and set(easy["gold"]) == {"(B)"}
