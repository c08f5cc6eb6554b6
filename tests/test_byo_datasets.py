"""Bring your own dataset: the `file` and `hub` loaders on files written here with their own
field names, in every file format and answer format; ids, tiers (integers, labels, bins),
shipped pass rates, and every kind of bad input."""

import gzip
import json
import re

import pandas as pd
import pytest
from hub_fixtures import write_hub_repo

from grpo_difficulty import select, tasks
from grpo_difficulty.config.sections import SubsetConfig

# One problem set per answer_format, in the user's schema: (answer field value, expected gold).
ANSWERS = {
    "plain": [
        ("14", "14"),
        (7, "7"),
        ("$\\frac{1}{2}$", "\\frac{1}{2}"),
        ("1,234", "1234"),
        (2.5, "2.5"),
        ("\\boxed{3\\sqrt{2}}", "3\\sqrt{2}"),
        ("18 dollars", "18"),  # a number with unit words is the number
        ("1,234 people", "1234"),
        ("$5 per hour", "5"),
        ("\\boxed{(2,2)}, \\boxed{(6,2)}", "(2,2), (6,2)"),  # several boxes: one answer, all kept
    ],
    "gsm8k": [("7 + 7 = 14\n#### 14", "14"), ("a\nb\n#### 1,000", "1000")],
    "boxed_solution": [
        ("So $x = \\boxed{12}$.", "12"),
        ("It is $\\boxed{\\frac{3}{4}}$; again, \\boxed{ \\frac{3}{4} }", "\\frac{3}{4}"),
    ],
    "choice": [("B", "(B)"), ("(C)", "(C)"), ("a", "(A)"), ("D) blue", "(D)")],
    "text": [("Yes", "Yes"), (" New York ", "New York"), ("valid", "valid")],
}
ANSWER_TYPE = {"plain": "math", "gsm8k": "math", "boxed_solution": "math", "choice": "choice", "text": "text"}
FIELDS = {"question": "prompt", "answer": "target", "id": "uid", "tier": "difficulty"}


def user_records(answer_format):
    return [
        {
            "uid": f"q{17 + i}",
            "prompt": f"Question {i} of {answer_format}?",
            "target": value,
            "difficulty": i % 3 + 1,
            "notes": "x",
        }
        for i, (value, _) in enumerate(ANSWERS[answer_format])
    ]


def write(path, records, fmt):
    """The records as a user would save them, by the libraries' own writers."""
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif fmt == "jsonl.gz":
        path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode()))
    elif fmt == "json":
        path.write_text(json.dumps(records, indent=1))
    elif fmt == "json-object":
        path.write_text(json.dumps({"version": 2, "data": records}))
    elif fmt == "json-pandas":
        pd.DataFrame(records).to_json(path)  # pandas' default layout: {column: {row: value}}
    elif fmt == "parquet":
        df = pd.DataFrame(records)
        (df.astype({"target": str}) if "target" in df else df).to_parquet(path)  # one type per column
    elif fmt == "csv":
        pd.DataFrame(records).to_csv(path, index=False)
    elif fmt == "tsv":
        pd.DataFrame(records).to_csv(path, index=False, sep="\t")
    return str(path)


SUFFIX = {"json-object": "json", "json-pandas": "json"}
FORMATS = ["jsonl", "jsonl.gz", "json", "json-object", "json-pandas", "parquet", "csv", "tsv"]


def load(spec, policy="error"):
    bad = tasks.BadRows(tasks.dataset_source(spec), policy, dataset="mine")
    return tasks.load_rows(spec, bad), bad


@pytest.mark.parametrize("answer_format", list(ANSWERS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_file_format_and_answer_format(tmp_path, fmt, answer_format):
    path = write(tmp_path / f"mine.{SUFFIX.get(fmt, fmt)}", user_records(answer_format), fmt)
    spec = {"loader": "file", "path": path, "fields": FIELDS, "answer_format": answer_format}
    assert tasks.config_problems(spec) == []
    df, bad = load(spec)
    assert df["gold"].tolist() == [gold for _, gold in ANSWERS[answer_format]]
    assert df["id"].tolist() == [f"q{17 + i}" for i in range(len(df))]
    assert df["tier"].tolist() == [i % 3 + 1 for i in range(len(df))]
    assert set(df["answer_type"]) == {ANSWER_TYPE[answer_format]} and set(df["subject"]) == {"mine"}
    assert set(df["source"]) == {path} and list(df.columns) == tasks.COLUMNS and not bad.skipped
    if answer_format in ("gsm8k", "boxed_solution"):  # the worked part is kept as the solution
        assert all(df["solution"].str.len() > 0)


def test_scoring_follows_the_answer_format(tmp_path):
    spec = {
        "loader": "file",
        "path": write(tmp_path / "c.jsonl", user_records("choice"), "jsonl"),
        "fields": FIELDS,
        "answer_format": "choice",
    }
    row = load(spec)[0].iloc[0]
    assert tasks.score(" (B)", row["gold"], row["answer_type"], "fewshot") == (True, "correct")
    assert tasks.score(" C", row["gold"], row["answer_type"], "fewshot") == (False, "wrong")
    spec = {"loader": "file", "path": write(tmp_path / "p.jsonl", user_records("plain"), "jsonl"), "fields": FIELDS}
    golds = load(spec)[0].set_index("id")["gold"]
    assert tasks.score("so \\boxed{0.5}", golds["q19"], "math", "boxed") == (True, "correct")
    assert tasks.score(" 1234", golds["q20"], "math", "fewshot") == (True, "correct")
    spec = dict(spec, path=write(tmp_path / "t.jsonl", user_records("text"), "jsonl"), answer_format="text")
    golds = load(spec)[0].set_index("id")["gold"]
    assert tasks.score(" new  york.", golds["q18"], "text", "fewshot") == (True, "correct")
    assert tasks.score("<answer>**YES**</answer>", golds["q17"], "text", "xml") == (True, "correct")
    assert tasks.score(" invalid", golds["q19"], "text", "fewshot") == (False, "wrong")


# Golds a user's file may hold that math-verify reads one way as a bare gold and another
# way in free text: repeating the gold must still score correct, in every prompt format.
PLAIN_GOLDS = ["18", "$18", "\\$18", "18%", "18 dollars", "5 cm", "$5.00", "1,234.5", "x = 3", "1/2"]
PLAIN_GOLDS += ["\\frac12", "2\\sqrt{3}", "(1, 2)", "10^{3}", "1e3", "A", "-3", "3.0"]
WRITTEN = {"fewshot": " {}\n", "boxed": "So the answer is \\boxed{{{}}}.", "xml": "<answer>{}</answer>"}


@pytest.mark.parametrize("fmt", list(WRITTEN))
def test_an_answer_that_repeats_the_gold_is_correct(fmt):
    for text in PLAIN_GOLDS:
        _, gold, kind = tasks.ANSWER_FORMATS["plain"](text)
        assert tasks.gold_problem(gold, kind) is None, text
        assert tasks.score(WRITTEN[fmt].format(text), gold, kind, fmt) == (True, "correct"), text
    assert tasks.score(" 19\n", "18", "math", fmt if fmt == "fewshot" else "fewshot") == (False, "wrong")
    assert tasks.score(" eighteen\n", "18", "math", "fewshot") == (False, "unparsable")


def test_defaults_glob_of_files_and_nested_fields(tmp_path):
    (tmp_path / "part").mkdir()
    write(tmp_path / "part" / "a.jsonl", [{"question": "What is 1+1?", "answer": 2}], "jsonl")
    write(tmp_path / "part" / "b.jsonl", [{"question": "What is 2+2?", "answer": "4"}], "jsonl")
    df, _ = load({"loader": "file", "path": str(tmp_path / "part" / "*.jsonl")})
    assert df["gold"].tolist() == ["2", "4"] and df["subject"].tolist() == ["a", "b"]  # subject: the file
    assert df["tier"].tolist() == [1, 1] and df["id"].tolist() == [tasks.question_id(q) for q in df["question"]]
    assert tasks.input_files({"loader": "file", "path": str(tmp_path / "**" / "*.jsonl")}) == [
        str(tmp_path / "part" / "a.jsonl"),
        str(tmp_path / "part" / "b.jsonl"),
    ]
    # verl-style records: the question is a chat, the answer nested, the id in extra_info
    verl = [
        {
            "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 3+3?"}],
            "reward_model": {"ground_truth": "6", "style": "rule"},
            "extra_info": {"index": 4, "level": "Level 2"},
        }
    ]
    path = write(tmp_path / "verl.parquet", verl, "parquet")
    spec = {
        "loader": "file",
        "path": path,
        "fields": {
            "question": "prompt",
            "answer": "reward_model.ground_truth",
            "id": "extra_info.index",
            "tier": "extra_info.level",
        },
    }
    assert tasks.config_problems(spec) == []
    row = load(spec)[0].iloc[0]
    assert (row["question"], row["gold"], row["id"], row["tier"]) == ("What is 3+3?", "6", "4", 2)


def test_hub_loader_through_datasets_load_dataset(tmp_path):
    """`loader: hub` runs the real datasets.load_dataset(path, name, split) on a local folder
    laid out like a hub repository with two configs."""
    records = user_records("plain")
    repo = write_hub_repo(
        tmp_path,
        {"easy/train.parquet": [dict(r, target=str(r["target"])) for r in records], "other/train.jsonl": records[:1]},
        {"easy": {"train": "easy/train.parquet"}, "other": {"train": "other/train.jsonl"}},
    )
    spec = {"loader": "hub", "path": repo, "name": "easy", "split": "train", "fields": FIELDS}
    df, _ = load(spec)
    assert df["id"].tolist() == [r["uid"] for r in records] and set(df["subject"]) == {"easy"}
    assert set(df["source"]) == {f"{repo}:train"} and df["gold"].tolist()[:2] == ["14", "7"]
    with pytest.raises(ValueError, match=re.escape(f"datasets.load_dataset({repo!r}, 'easy', split='test') failed")):
        load(dict(spec, split="test"))


def test_hub_loader_reads_an_edited_local_folder_again(tmp_path):
    """datasets caches a local folder by its name: an edit must not give the old rows."""
    records = [dict(r, target=str(r["target"])) for r in user_records("plain")]
    spec = {"loader": "hub", "path": str(tmp_path / "repo"), "name": "easy", "split": "train", "fields": FIELDS}
    for rows in (records[:3], records):
        write_hub_repo(tmp_path / "repo", {"easy/train.parquet": rows}, {"easy": {"train": "easy/train.parquet"}})
        assert load(spec)[0]["id"].tolist() == [r["uid"] for r in rows]


def test_gsm8k_loaders_are_presets_of_file_and_hub(tmp_path):
    records = [{"question": "q1", "answer": "a = 1\nb = 2\n#### 1,234"}]
    path = write(tmp_path / "g.jsonl", records, "jsonl")
    preset, _ = load({"loader": "gsm8k_file", "path": path})
    generic, _ = load({"loader": "file", "path": path, "answer_format": "gsm8k"})
    assert preset.drop(columns="subject").equals(generic.drop(columns="subject"))
    assert preset.loc[0, "subject"] == "gsm8k" and preset.loc[0, "tier"] == 2 and preset.loc[0, "gold"] == "1234"


# --------------------------------------------------------------------------- ids
def test_user_ids_ints_strings_and_floats_are_text(tmp_path):
    records = [
        {"uid": 17, "prompt": "a?", "target": 1},
        {"uid": "017", "prompt": "b?", "target": 2},
        {"uid": 18.0, "prompt": "c?", "target": 3},
        {"uid": " x-9 ", "prompt": "d?", "target": 4},
    ]
    df, _ = load(
        {
            "loader": "file",
            "path": write(tmp_path / "i.json", records, "json"),
            "fields": {"question": "prompt", "answer": "target", "id": "uid"},
        }
    )
    assert df["id"].tolist() == ["17", "017", "18", "x-9"]
    df, _ = load(
        {
            "loader": "file",
            "path": write(tmp_path / "i.csv", records, "csv"),
            "fields": {"question": "prompt", "answer": "target", "id": "uid"},
        }
    )
    assert df["id"].tolist() == ["17", "017", "18.0", "x-9"]  # csv cells are text: kept as written


def test_duplicate_ids_are_bad_rows(tmp_path):
    records = [
        {"uid": 5, "prompt": "a?", "target": 1},
        {"uid": "5", "prompt": "b?", "target": 2},
        {"uid": 6, "prompt": "c?", "target": 3},
    ]
    spec = {
        "loader": "file",
        "path": write(tmp_path / "d.jsonl", records, "jsonl"),
        "fields": {"question": "prompt", "answer": "target", "id": "uid"},
    }
    with pytest.raises(
        ValueError, match=re.escape(f"datasets.mine ({spec['path']}) line 2: duplicate id '5' (same as line 1)")
    ):
        load(spec)
    df, bad = load(dict(spec, bad_rows="skip"), "skip")
    assert df["id"].tolist() == ["5", "6"] and len(bad.skipped) == 1


# --------------------------------------------------------------------------- tiers
def tier_spec(tmp_path, values, **keys):
    records = [{"q": f"What is {i} + 1?", "a": i + 1, "d": v} for i, v in enumerate(values)]
    return {
        "loader": "file",
        "path": write(tmp_path / "t.jsonl", records, "jsonl"),
        "fields": {"question": "q", "answer": "a", "tier": "d"},
        **keys,
    }


def test_integer_like_tiers(tmp_path):
    df, _ = load(tier_spec(tmp_path, [3, "2", 1.0, " 4 ", "Level 5", "level-2", "7.0"]))
    assert df["tier"].tolist() == [3, 2, 1, 4, 5, 2, 7]
    df, _ = load(tier_spec(tmp_path, ["Hard", "easy", "MEDIUM"], tier_labels=["easy", "medium", "hard"]))
    assert df["tier"].tolist() == [3, 1, 2]


def test_non_integer_tiers_need_bins(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"tier field 'd' holds non-integer values \(2 rows, e.g. 0.25 at line 2\); "
        r"set tier_bins: N",
    ):
        load(tier_spec(tmp_path, [1, 0.25, 0.5]))


def test_quantile_bins_both_directions_logged(tmp_path, capsys):
    scores = [0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6]
    df, _ = load(tier_spec(tmp_path, scores, tier_bins=3))  # ascending: higher = harder
    assert dict(zip(scores, df["tier"], strict=True)) == {
        0.1: 1,
        0.2: 1,
        0.3: 1,
        0.4: 2,
        0.5: 2,
        0.6: 2,
        0.7: 3,
        0.8: 3,
        0.9: 3,
    }
    log = capsys.readouterr().out
    assert "field 'd' binned into 3 quantile tier(s) (asked for 3); tier 1 = easiest = lower values" in log
    assert "tier 1: d 0.1 to 0.3 (3 rows)" in log and "tier 3: d 0.7 to 0.9 (3 rows)" in log
    df, _ = load(tier_spec(tmp_path, scores, tier_bins=3, tier_order="descending"))  # a pass rate: higher = easier
    assert dict(zip(scores, df["tier"], strict=True))[0.9] == 1 and dict(zip(scores, df["tier"], strict=True))[0.1] == 3
    assert "tier 1 = easiest = higher values" in capsys.readouterr().out


def test_tied_values_merge_bins_and_one_value_is_one_tier(tmp_path, capsys):
    df, _ = load(tier_spec(tmp_path, [0, 0, 0, 0, 0, 0.5, 1, 1], tier_bins=4, tier_order="descending"))
    assert sorted(set(df["tier"])) == [1, 2] and "asked for 4; tied values merged bins" in capsys.readouterr().out
    df, _ = load(tier_spec(tmp_path, [0.3, 0.3], tier_bins=3))
    assert df["tier"].tolist() == [1, 1]


# --------------------------------------------------------------------------- shipped difficulty
def shipped_spec(tmp_path, rates, **keys):
    records = [
        {"id": f"p{i}", "q": f"What is {i} + 2?", "a": i + 2, "solved": r, "lvl": 1 + i % 2}
        for i, r in enumerate(rates)
    ]
    return {
        "loader": "file",
        "path": write(tmp_path / "s.jsonl", records, "jsonl"),
        "fields": {"question": "q", "answer": "a", "id": "id", "tier": "lvl", "pass_rate": "solved"},
        **keys,
    }


def test_shipped_pass_rates_select_without_probe(tmp_path):
    spec = shipped_spec(tmp_path, [16, 0, 8, 4, 12, "50%"], pass_rate_scale=16)
    assert tasks.shipped_pass_rate(spec) == "solved"
    df, _ = load(spec)
    assert df["pass_rate"].tolist() == [1.0, 0.0, 0.5, 0.25, 0.75, 0.5]
    table = select.difficulty_table(df)
    easy = select.select_subset(table, "e", SubsetConfig(strategy="easy", budget=2), 0)
    assert easy["id"].tolist() == ["p0", "p4"]
    band = select.select_subset(table, "b", SubsetConfig(strategy="band", lo=0.2, hi=0.6), 0)
    assert sorted(band["id"]) == ["p2", "p3", "p5"]
    stats = select.subset_stats(easy, "e", SubsetConfig(strategy="easy"), 8)
    assert stats["difficulty"] == "shipped" and stats["frac_greedy_correct"] is None and stats["tiers"] == {1: 2}
    with pytest.raises(ValueError, match="strategy base_wrong needs the probe's greedy answers"):
        select.select_subset(table, "w", SubsetConfig(strategy="base_wrong"), 0)
    # a probe's rates replace the shipped ones when both are given
    probe = pd.DataFrame(
        dict(id=df["id"], tier=df["tier"], k=4, n_correct=0, pass_rate=0.0, greedy_correct=False, mean_tokens=3.0)
    )
    assert (select.difficulty_table(df, probe)["pass_rate"] == 0).all()


def test_shipped_pass_rate_out_of_range_is_a_bad_row(tmp_path):
    spec = shipped_spec(tmp_path, [0.5, 3, "often"])
    with pytest.raises(
        ValueError,
        match=re.escape(f"datasets.mine ({spec['path']}) line 2: pass rate 3 is not in [0, 1] (set pass_rate_scale"),
    ):
        load(spec)
    df, bad = load(spec, "skip")
    assert df["id"].tolist() == ["p0"]
    assert [m.split(": ", 1)[1] for m in bad.skipped][1] == "pass rate 'often' is not a number"


# --------------------------------------------------------------------------- bad input
BAD_ROWS = [  # (answer_format, record in the user's schema, message)
    (
        "plain",
        {"uid": "a", "target": "1"},
        "missing or empty field 'prompt' (fields.question; this row has fields 'uid', 'target')",
    ),
    (
        "plain",
        {"uid": "a", "prompt": "p?", "target": "  "},
        "missing or empty field 'target' (fields.answer; this row has fields 'uid', 'prompt')",
    ),
    (
        "plain",
        {"uid": None, "prompt": "p?", "target": "1", "difficulty": 2},
        "missing or empty field 'uid' (fields.id; this row has fields 'prompt', 'target', 'difficulty')",
    ),
    ("text", {"uid": "a", "prompt": "p?", "target": " ' "}, 'answer " \' " is empty as text (answer_format text)'),
    (
        "plain",
        {"uid": "a", "prompt": "p?", "target": "The answer is 42"},
        "answer 'The answer is 42' has words around its math (The, answer): math-verify would read them as a "
        "product of letters; map the final answer itself, or use answer_format gsm8k, boxed_solution or text",
    ),
    (
        "plain",
        {"uid": "a", "prompt": "p?", "target": "fourteen"},
        "answer 'fourteen' is words, not a number or math expression (answer_format plain is scored by math-verify; "
        "option letters: answer_format choice; words such as Yes or Paris: answer_format text)",
    ),
    (
        "plain",
        {"uid": "a", "prompt": "p?", "target": "\\frac{}{}"},
        "gold '\\\\frac{}{}' cannot be parsed by math-verify",
    ),
    (
        "plain",
        {"uid": "a", "prompt": "p?", "target": ["1", "2"]},
        "field 'target' holds a list of 2 values, not one (name one element with a dotted path such as target.0)",
    ),
    (
        "plain",
        {"uid": "a", "prompt": "p?", "target": {"value": 3}},
        "field 'target' holds an object with keys 'value', not a value (name one with a dotted path such as "
        "target.value)",
    ),
    (
        "plain",
        {"uid": "a", "prompt": "p?", "target": "1", "difficulty": "hard"},
        "tier 'hard' is not a number (map a numeric field, or list its labels easiest first in tier_labels)",
    ),
    (
        "gsm8k",
        {"uid": "a", "prompt": "p?", "target": "It is 14."},
        "answer has no '#### <final answer>' line: 'It is 14.'",
    ),
    (
        "gsm8k",
        {"uid": "a", "prompt": "p?", "target": "x\n#### fourteen"},
        "final answer 'fourteen' after '####' is not a number",
    ),
    (
        "boxed_solution",
        {"uid": "a", "prompt": "p?", "target": "The answer is 12."},
        "solution has no \\boxed{...} final answer: 'The answer is 12.'",
    ),
    (
        "boxed_solution",
        {"uid": "a", "prompt": "p?", "target": "Not \\boxed{1}; it is $\\boxed{\\frac{3}{4}}$"},
        "solution has 2 different \\boxed{...} answers ('1', '\\\\frac{3}{4}'); a gold is one answer: box it "
        "once (a multi-part answer in one box, '(2,2), (6,2)') or map the answer itself (answer_format plain)",
    ),
    (
        "choice",
        {"uid": "a", "prompt": "p?", "target": 2},
        "answer '2' is not an option letter like A or (A) (answer_format choice)",
    ),
    (
        "choice",
        {"uid": "a", "prompt": "p?", "target": "Option B"},
        "answer 'Option B' is not an option letter like A or (A) (answer_format choice)",
    ),
]


@pytest.mark.parametrize("answer_format, record, message", BAD_ROWS)
def test_bad_row_names_file_row_and_value(tmp_path, answer_format, record, message):
    good = {
        "uid": "g",
        "prompt": "What is 1?",
        "target": "(A)" if answer_format == "choice" else "1\n#### 1" if answer_format == "gsm8k" else "\\boxed{1}",
        "difficulty": 1,
    }
    path = write(tmp_path / "bad.jsonl", [good, record], "jsonl")
    spec = {
        "loader": "file",
        "path": path,
        "fields": FIELDS if "difficulty" in record else {k: v for k, v in FIELDS.items() if k != "tier"},
        "answer_format": answer_format,
    }
    with pytest.raises(ValueError) as err:
        load(spec)
    # the dataset's config key, its file and the line an editor shows (the good row is line 1)
    assert str(err.value) == f"datasets.mine ({path}) line 2: {message}"
    df, bad = load(dict(spec, bad_rows="skip"), "skip")  # skip works for every case: counted and listed
    assert df["id"].tolist() == ["g"] and bad.skipped == [f"datasets.mine ({path}) line 2: {message}"]
    assert bad.summary().startswith(f"datasets.mine ({path}): skipped 1 bad row(s)\ndatasets.mine ({path}) line 2: ")


# Multiple choice with the options in a field of their own: MMLU's layout (a list, an
# index answer) and ARC's (an object of text and label lists, a label answer), nested.
MMLU = [
    {"q": "Which is a primary colour?", "options": ["green", "blue", "pink"], "label": 1},
    {"q": "Which is a fruit?", "options": ["apple", "carrot", "leek"], "label": "apple"},
    {"q": "Pick the third.", "options": ["x", "y", "z"], "label": "C"},
]
ARC = [
    {
        "id": "arc-1",
        "question": {"stem": "What melts ice?", "choices": {"text": ["heat", "cold"], "label": ["1", "2"]}},
        "answerKey": "1",
    },
    {
        "id": "arc-2",
        "question": {"stem": "What is wet?", "choices": {"text": ["sand", "water"], "label": ["A", "B"]}},
        "answerKey": "B",
    },
]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_choices_field_lists_the_options_and_reads_any_answer_form(tmp_path, fmt):
    spec = {
        "loader": "file",
        "path": write(tmp_path / f"m.{fmt}", MMLU, "jsonl" if fmt == "jsonl" else "json"),
        "fields": {"question": "q", "answer": "label", "choices": "options"},
    }
    if fmt == "parquet":  # parquet needs one type per column: index answers as text
        spec["path"] = str(tmp_path / "m.parquet")
        pd.DataFrame(MMLU).astype({"label": str}).to_parquet(spec["path"])
    assert tasks.config_problems(spec) == []
    df, _ = load(spec)
    assert df["gold"].tolist() == ["(B)", "(A)", "(C)"] and set(df["answer_type"]) == {"choice"}
    assert df["question"][0] == "Which is a primary colour?\nOptions:\n(A) green\n(B) blue\n(C) pink"
    assert tasks.score(" (B)", df["gold"][0], "choice", "fewshot") == (True, "correct")
    assert tasks.score(" A", df["gold"][0], "choice", "fewshot") == (False, "wrong")
    one_based = load(dict(spec, answer_index_base=1))[0]
    assert one_based["gold"].tolist() == ["(A)", "(A)", "(C)"]

    path = write(tmp_path / f"arc.{fmt}", ARC, "jsonl")
    if fmt == "parquet":  # nested objects of lists, as a hub export writes them
        path = str(tmp_path / "arc.parquet")
        pd.DataFrame(ARC).to_parquet(path)
    fields = {"question": "question.stem", "choices": "question.choices", "answer": "answerKey", "id": "id"}
    df, _ = load({"loader": "file", "path": path, "fields": fields, "answer_format": "choice"})
    assert df["gold"].tolist() == ["(A)", "(B)"] and df["id"].tolist() == ["arc-1", "arc-2"]
    assert df["question"][1].endswith("Options:\n(A) sand\n(B) water")


@pytest.mark.parametrize(
    "record, message",
    [
        ({"q": "a?", "options": ["x", "y"], "label": 2}, "answer index 2 is out of range for 2 options"),
        ({"q": "a?", "options": ["x", "y"], "label": "purple"}, "answer 'purple' is not an option's label, an index"),
        ({"q": "a?", "options": ["x", "y"], "label": "D"}, "answer 'D' names no option: there are 2 (A-B)"),
        ({"q": "a?", "options": "x or y", "label": "A"}, "field 'options' holds 'x or y', not a list of 2 to 26"),
        (
            {"q": "a?", "options": {"label": ["A"]}, "label": "A"},
            "field 'options' is an object with keys 'label'; options need a 'text' list",
        ),
    ],
)
def test_bad_choices_name_the_row_and_value(tmp_path, record, message):
    good = {"q": "b?", "options": ["x", "y"], "label": 0}
    path = write(tmp_path / "m.jsonl", [good, record], "jsonl")
    spec = {"loader": "file", "path": path, "fields": {"question": "q", "answer": "label", "choices": "options"}}
    with pytest.raises(ValueError, match=re.escape(f"datasets.mine ({path}) line 2: {message}")):
        load(spec)


def test_bad_lines_and_files(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"q": "What is 1?", "a": 1}\n\n{"q": "broken", \n[1, 2]\n{"q": "What is 2?", "a": 2}\n')
    df, bad = load({"loader": "file", "path": str(path), "fields": {"question": "q", "answer": "a"}}, "skip")
    assert df["question"].tolist() == ["What is 1?", "What is 2?"]  # the blank line is no row, not a bad one
    assert [m.split(": ", 1)[0] for m in bad.skipped] == [f"datasets.mine ({path}) line {i}" for i in (3, 4)]
    (tmp_path / "x.json").write_text('{"train": [], "test": []}')
    with pytest.raises(
        ValueError,
        match="expected a list of records or an object holding one list of records; "
        "found an object with keys \\['train', 'test'\\]",
    ):
        load({"loader": "file", "path": str(tmp_path / "x.json")})
    (tmp_path / "y.xlsx").write_text("")
    with pytest.raises(ValueError, match="y.xlsx: unsupported file type"):
        load({"loader": "file", "path": str(tmp_path / "y.xlsx")})


def test_bad_rows_are_named_by_the_line_an_editor_shows(tmp_path):
    """csv: the header is line 1 and a quoted cell may span lines; a row of too many cells is
    a bad row; of several files, the file is named; non line-based files count rows from 1."""
    fields = {"question": "q", "answer": "a"}
    csv = tmp_path / "m.csv"
    csv.write_text('q,a\n"What is\n1?",1\n\nWhat is 2?,\nWhat is 3?,3,extra\nWhat is 4?,4\n')
    df, bad = load({"loader": "file", "path": str(csv), "fields": fields}, "skip")
    assert df["question"].tolist() == ["What is\n1?", "What is 4?"]
    assert bad.skipped == [
        f"datasets.mine ({csv}) line 6: 3 cells, the header has 2 columns",
        f"datasets.mine ({csv}) line 5: missing or empty field 'a' (fields.answer; this row has fields 'q')",
    ]
    (tmp_path / "broken.csv").write_text('q,a\nWhat is 1?,1\n"What is 2?"x,2\n')
    with pytest.raises(ValueError, match=r"broken.csv line 3: cannot be read as csv \(',' expected after '\"'\)"):
        load({"loader": "file", "path": str(tmp_path / "broken.csv"), "fields": fields})
    (tmp_path / "twice.csv").write_text("q,a,q\nx,1,y\n")
    with pytest.raises(ValueError, match=r"twice.csv: columns \['q'\] appear more than once in the header"):
        load({"loader": "file", "path": str(tmp_path / "twice.csv"), "fields": fields})

    parts = tmp_path / "parts"
    parts.mkdir()
    write(parts / "a.jsonl", [{"q": "What is 5?", "a": 5}], "jsonl")
    write(parts / "b.jsonl", [{"q": "What is 6?", "a": 6}, {"q": "What is 7?"}], "jsonl")
    with pytest.raises(ValueError, match=re.escape(f"datasets.mine ({parts}/*.jsonl) line 2 of b.jsonl: missing")):
        load({"loader": "file", "path": f"{parts}/*.jsonl", "fields": fields})
    path = write(tmp_path / "m.parquet", [{"q": "What is 8?", "a": "8"}, {"q": "What is 9?", "a": ""}], "parquet")
    with pytest.raises(ValueError, match=re.escape(f"datasets.mine ({path}) row 2: missing or empty field 'a'")):
        load({"loader": "file", "path": path, "fields": fields})


@pytest.mark.parametrize(
    "keys, problem",
    [
        (
            {"fields": {"question": "prompt", "answer": "answer_text"}},
            (
                "fields.answer",
                "'answer_text' is not a column of {path}; its columns: uid, prompt, target, difficulty, notes",
            ),
        ),
        (
            {"fields": {"question": "prompt"}},
            ("fields.answer", "'answer' (the default; map the answer with fields.answer) is not a column of {path}"),
        ),
        ({"fields": {**FIELDS, "pass_rate": "solve_rate"}}, ("fields.pass_rate", "'solve_rate' is not a column of")),
        ({"fields": FIELDS, "path": "{dir}/nope*.jsonl"}, ("path", "no dataset file matches {dir}/nope*.jsonl")),
        ({"fields": FIELDS, "path": "{dir}/*"}, ("path", "matches files of several formats (['csv', 'jsonl'])")),
        ({"fields": {"question": "prompt", "answer": "target"}, "tier_bins": 3}, ("tier_bins", "needs fields.tier")),
        ({"fields": FIELDS, "tier_order": "descending"}, ("tier_order", "orders binned tiers only: set tier_bins")),
        ({"fields": FIELDS, "tier_bins": 3, "tier_labels": ["a"]}, ("tier_labels", "set tier_bins or tier_labels")),
        ({"fields": FIELDS, "pass_rate_scale": 16}, ("pass_rate_scale", "needs fields.pass_rate")),
        ({"fields": FIELDS, "question_field": "prompt"}, ("question_field", "with loader file map fields.question")),
        (
            {"fields": {**FIELDS, "choices": "notes"}, "answer_format": "plain"},
            ("answer_format", "'plain': fields.choices needs answer_format choice"),
        ),
        ({"fields": FIELDS, "answer_index_base": 1}, ("answer_index_base", "needs fields.choices")),
    ],
)
def test_config_problems_name_the_key(tmp_path, keys, problem):
    path = write(tmp_path / "mine.jsonl", user_records("plain"), "jsonl")
    write(tmp_path / "other.csv", user_records("plain"), "csv")
    spec = {
        "loader": "file",
        "path": path,
        **{k: v.format(dir=tmp_path) if k == "path" else v for k, v in keys.items()},
    }
    key, message = problem
    found = tasks.config_problems(spec)
    assert [k for k, _ in found] == [key]
    assert message.format(path=path, dir=tmp_path) in found[0][1]
