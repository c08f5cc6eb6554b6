"""Benchmark loaders (MATH, MATH-500, AIME 2025, BIG-Bench Hard), the numeric subset and the
procedural shuffled-objects generator. Hub loaders run the real `datasets.load_dataset` on
local folders written here in each hub repository's schema and layout."""

import json
import re

import pytest
from hub_fixtures import write_hub_repo

from grpo_difficulty import tasks

# EleutherAI/hendrycks_math schema: problem, level ("Level N"), type, solution (answer in \boxed{})
ALGEBRA = [
    {
        "problem": "Compute $\\sin 60^\\circ$.",
        "level": "Level 2",
        "type": "Algebra",
        "solution": "We know $\\sin 60^\\circ = \\frac{\\sqrt{3}}{2}$,"
        " so the answer is $\\boxed{\\frac{\\sqrt{3}}{2}}$.",
    },
    {
        "problem": "If $x+3=15$, what is $x$?",
        "level": "Level 1",
        "type": "Algebra",
        "solution": "Subtract 3 from both sides: $x = \\boxed{12}$.",
    },
    {
        "problem": "Write $-7/2$ as a decimal.",
        "level": "Level 3",
        "type": "Algebra",
        "solution": "$-7/2 = \\boxed{-3.5}$.",
    },
    {
        "problem": "Solve $x^2 < 1$.",
        "level": "Level 4",
        "type": "Algebra",
        "solution": "Not $x < 1$ alone: the solution set is $\\boxed{(-1, 1)}$.",
    },
    {
        "problem": "How many meters are in a kilometer?",
        "level": "Level 5",
        "type": "Algebra",
        "solution": "There are $\\boxed{1{,}000}$ meters.",
    },
    {
        "problem": "Which integers $n$ satisfy $n^2 = n + 2$ and $n > -2$?",
        "level": "Level 5",
        "type": "Algebra",
        "solution": "$n^2 - n - 2 = (n-2)(n+1)$, so $\\boxed{\\{-1, 2\\}}$.",
    },
]
COUNTING = [
    {
        "problem": "In how many ways can 2 of 4 books be chosen?",
        "level": "Level 2",
        "type": "Counting & Probability",
        "solution": "$\\binom{4}{2} = \\boxed{6}$.",
    },
    {
        "problem": "A fair coin is flipped. What is the probability of heads?",
        "level": "Level 1",
        "type": "Counting & Probability",
        "solution": "One of two outcomes: $\\boxed{\\frac{1}{2}}$.",
    },
]
MATH_GOLDS = ["\\frac{\\sqrt{3}}{2}", "12", "-3.5", "(-1, 1)", "1{,}000", "\\{-1, 2\\}", "6", "\\frac{1}{2}"]


def math_repo(root, algebra=ALGEBRA, counting=COUNTING):
    """Like EleutherAI/hendrycks_math: one config (folder of parquet files) per subject."""
    files = {
        "algebra/train-00000-of-00001.parquet": algebra,
        "counting_and_probability/train-00000-of-00001.parquet": counting,
    }
    configs = {name.split("/")[0]: {"train": name} for name in files}
    return write_hub_repo(root, files, configs)


def load(spec, policy="error"):
    bad = tasks.BadRows(tasks.dataset_source(spec), policy)
    return tasks.load_rows(spec, bad), bad


def test_math_hub_one_config_per_subject(tmp_path):
    spec = {
        "loader": "math_hub",
        "path": math_repo(tmp_path),
        "split": "train",
        "subjects": ["algebra", "counting_and_probability"],
    }
    df, _ = load(spec)
    assert df["gold"].tolist() == MATH_GOLDS  # the \boxed{} of each solution, nested braces matched
    assert df["tier"].tolist() == [2, 1, 3, 4, 5, 5, 2, 1]
    assert df["subject"].tolist() == ["Algebra"] * 6 + ["Counting & Probability"] * 2
    assert set(df["answer_type"]) == {"math"} and set(df["source"]) == {f"{tmp_path}:train"}
    assert df["solution"].tolist() == [r["solution"] for r in ALGEBRA + COUNTING]
    assert list(df.columns) == tasks.COLUMNS
    # the default is all seven subjects: a missing one names the hub call and the config
    with pytest.raises(ValueError, match=r"load_dataset\(.*'geometry', split='train'\) failed"):
        load({"loader": "math_hub", "path": spec["path"], "split": "train"})


def test_a_math_solution_with_two_different_boxes_is_a_bad_row(tmp_path):
    """Never cut to the last box: an intermediate box beside the answer is not for the loader to guess."""
    two = dict(ALGEBRA[3], solution="Not \\boxed{x < 1} alone: the solution set is $\\boxed{(-1, 1)}$.")
    spec = {"loader": "math_hub", "path": math_repo(tmp_path, ALGEBRA[:3] + [two]), "split": "train"}
    spec["subjects"] = ["algebra", "counting_and_probability"]
    with pytest.raises(ValueError, match=re.escape("row 4 of algebra: solution has 2 different \\boxed{...} answers")):
        load(spec)
    df, bad = load(spec, "skip")
    assert len(df) == 5 and len(bad.skipped) == 1 and "'x < 1', '(-1, 1)'" in bad.skipped[0]


def test_math_lighteval_single_config_filtered_by_subject(tmp_path):
    """DigitalLearningGmbH/MATH-lighteval: config `default` holds every subject."""
    repo = write_hub_repo(
        tmp_path,
        {"data/train-00000-of-00001.parquet": ALGEBRA + COUNTING},
        {"default": {"train": "data/train-00000-of-00001.parquet"}},
    )
    df, _ = load(
        {
            "loader": "math_hub",
            "path": repo,
            "name": "default",
            "split": "train",
            "subjects": ["counting_and_probability"],
        }
    )
    assert df["gold"].tolist() == ["6", "\\frac{1}{2}"]
    df, _ = load({"loader": "math_hub", "path": repo, "name": "default", "split": "train"})
    assert len(df) == 8


def test_math_bad_rows_name_config_and_row(tmp_path):
    counting = COUNTING + [
        {
            "problem": "Level unknown upstream.",
            "level": "Level ?",
            "type": "Counting & Probability",
            "solution": "$\\boxed{3}$",
        },
        {
            "problem": "No boxed answer.",
            "level": "Level 1",
            "type": "Counting & Probability",
            "solution": "The answer is 3.",
        },
        {
            "problem": "Unclosed box.",
            "level": "Level 1",
            "type": "Counting & Probability",
            "solution": "So $\\boxed{\\frac{1}{2}$.",
        },
        {"problem": "", "level": "Level 1", "type": "Counting & Probability", "solution": "$\\boxed{1}$"},
    ]
    spec = {
        "loader": "math_hub",
        "path": math_repo(tmp_path, counting=counting),
        "split": "train",
        "subjects": ["algebra", "counting_and_probability"],
    }
    with pytest.raises(
        ValueError,
        match=re.escape(f"{tmp_path}:train row 3 of counting_and_probability: level 'Level ?' is not one of 1-5"),
    ):
        load(spec)
    df, bad = load(spec, "skip")
    assert len(df) == 8
    assert [m.split(": ", 2)[1] for m in bad.skipped] == [
        "level 'Level ?' is not one of 1-5 (or 'Level 1'..'Level 5')",
        "solution has no \\boxed{...} final answer",
        "solution has no \\boxed{...} final answer",
        "missing or empty field 'problem' (this row has fields 'level', 'type', 'solution')",
    ]
    assert [m.split(": ", 1)[0].rsplit(" row ", 1)[1] for m in bad.skipped] == [
        f"{i} of counting_and_probability" for i in (3, 4, 5, 6)
    ]


def test_math_gold_must_parse(tmp_path):
    algebra = [{"problem": "p", "level": "Level 1", "type": "Algebra", "solution": "$\\boxed{\\frac{}{}}$"}]
    spec = {
        "loader": "math_hub",
        "path": math_repo(tmp_path, algebra=algebra),
        "split": "train",
        "subjects": ["algebra"],
    }
    with pytest.raises(
        ValueError, match=re.escape(f"{tmp_path}:train row 1: gold '\\\\frac{{}}{{}}' cannot be parsed")
    ):
        load(spec)


def test_math500_hub(tmp_path):
    """HuggingFaceH4/MATH-500: one test.jsonl, integer levels, the answer in its own field."""
    records = [
        {
            "problem": "What is $1+1$?",
            "solution": "$1+1=\\boxed{2}$",
            "answer": "2",
            "subject": "Prealgebra",
            "level": 1,
            "unique_id": "test/prealgebra/1.json",
        },
        {
            "problem": "Simplify $\\sqrt{12}$.",
            "solution": "$\\sqrt{12} = \\boxed{2\\sqrt{3}}$",
            "answer": "2\\sqrt{3}",
            "subject": "Algebra",
            "level": 4,
            "unique_id": "test/algebra/2.json",
        },
    ]
    df, _ = load({"loader": "math500_hub", "path": write_hub_repo(tmp_path, {"test.jsonl": records})})
    assert df["gold"].tolist() == ["2", "2\\sqrt{3}"] and df["tier"].tolist() == [1, 4]
    assert df["subject"].tolist() == ["Prealgebra", "Algebra"]
    assert tasks.score("so \\boxed{\\sqrt{12}}", df.loc[1, "gold"], "math", "boxed") == (True, "correct")


def aime_repo(root, second):
    first = [
        {"question": "Find the sum of all integer bases $b>9$ for which $17_b$ divides $97_b$.", "answer": "70"},
        {"question": "How many ordered pairs satisfy the equation?", "answer": "117"},
    ]
    return write_hub_repo(
        root,
        {"aime2025-I.jsonl": first, "aime2025-II.jsonl": second},
        {"AIME2025-I": {"test": "aime2025-I.jsonl"}, "AIME2025-II": {"test": "aime2025-II.jsonl"}},
    )


def test_aime_hub_concatenates_both_exams(tmp_path):
    repo = aime_repo(tmp_path, [{"question": "Find the remainder when N is divided by 1000.", "answer": "16"}])
    df, _ = load({"loader": "aime_hub", "path": repo})
    assert df["gold"].tolist() == ["70", "117", "16"]
    assert df["subject"].tolist() == ["AIME2025-I", "AIME2025-I", "AIME2025-II"]
    assert set(df["tier"]) == {1} and set(df["source"]) == {f"{repo}:test"}
    df, _ = load({"loader": "aime_hub", "path": repo, "configs": ["AIME2025-II"]})
    assert df["gold"].tolist() == ["16"]


def test_aime_bad_row_names_the_exam(tmp_path):
    repo = aime_repo(tmp_path, [{"question": "q1", "answer": "5"}, {"question": "q2", "answer": None}])
    with pytest.raises(ValueError, match="row 2 of AIME2025-II: missing or empty field 'answer'"):
        load({"loader": "aime_hub", "path": repo})


@pytest.mark.parametrize(
    "gold, plain",
    [
        ("12", True),
        ("-3.5", True),
        ("0.25", True),
        ("1{,}000", True),
        ("\\$4.50", True),
        ("\\frac{1}{2}", False),
        ("\\sqrt{2}", False),
        ("(-1, 1)", False),
        ("x+1", False),
        ("3\\pi", False),
    ],
)
def test_plain_number(gold, plain):
    assert tasks.is_plain_number(gold, "math") is plain


def test_numeric_only_keeps_plain_numbers_and_logs_the_drop(tmp_path, capsys):
    spec = {
        "loader": "math_hub",
        "path": math_repo(tmp_path),
        "split": "train",
        "subjects": ["algebra", "counting_and_probability"],
        "numeric_only": True,
    }
    df, _ = load(spec)
    assert df["gold"].tolist() == ["12", "-3.5", "1{,}000", "6"]
    assert f"{tmp_path}:train: numeric_only kept 4 of 8 rows, dropped 4" in capsys.readouterr().out
    # limit subsamples the numeric subset, not the whole set
    df, _ = load(dict(spec, limit=2))
    assert len(df) == 2 and set(df["gold"]) <= {"12", "-3.5", "1{,}000", "6"}
    with pytest.raises(ValueError, match="numeric_only left no rows"):
        load(
            {
                "loader": "shuffled_objects",
                "levels": [1],
                "per_level": {"test": 3},
                "split": "test",
                "seed": 0,
                "numeric_only": True,
            }
        )


# --------------------------------------------------------------------------- BBH
def test_bbh_file_on_shared_data(bbh_dir):
    spec = {"loader": "bbh_file", "path": str(bbh_dir)}
    df, _ = load(spec)
    assert df["tier"].value_counts().to_dict() == {3: 250, 5: 250, 7: 250}
    assert set(df["answer_type"]) == {"choice"} and df["id"].is_unique
    first = json.loads((bbh_dir / "tracking_shuffled_objects_five_objects.json").read_text())["examples"][0]
    row = df[df["subject"] == "tracking_shuffled_objects_five_objects"].iloc[0]
    assert (row["question"], row["gold"]) == (first["input"], first["target"])
    assert tasks.input_files(spec) == [
        str(bbh_dir / f"tracking_shuffled_objects_{n}_objects.json") for n in ("three", "five", "seven")
    ]
    df, _ = load(dict(spec, objects=[7]))
    assert len(df) == 250 and set(df["tier"]) == {7}


def test_bbh_hub(tmp_path):
    """lukaemon/bbh as `datasets` can read it: the hub's parquet export, one folder per
    task (<task>/test/0000.parquet), fields input/target."""
    files = {}
    for objects, level in ((3, 3), (7, 9)):  # generator levels with BBH's object counts
        rows = tasks.shuffled_objects_rows([level], {"test": 4}, "test", seed=1)
        files[f"{tasks.bbh_task(objects)}/test/0000.parquet"] = [
            {"input": q, "target": g} for q, g in rows[["question", "gold"]].values
        ]
    repo = write_hub_repo(tmp_path, files)
    df, _ = load({"loader": "bbh_hub", "path": repo, "objects": [3, 7]})
    assert df["tier"].tolist() == [3] * 4 + [7] * 4
    assert df["gold"].tolist() == [r["target"] for records in files.values() for r in records]
    assert df["subject"].tolist() == [tasks.bbh_task(3)] * 4 + [tasks.bbh_task(7)] * 4
    assert set(df["answer_type"]) == {"choice"}
    with pytest.raises(ValueError, match=r"load_dataset\(.*\) failed"):
        load({"loader": "bbh_hub", "path": repo, "objects": [5]})


def test_bbh_bad_rows(tmp_path):
    question = "Alice, Bob, and Claire swap hats. At the end, Bob has\nOptions:\n(A) red\n(B) blue\n(C) green"
    examples = [
        {"input": question, "target": "(B)"},
        {"input": question + " hat", "target": "B"},
        {"input": question + " cap", "target": "(D)"},
        {"target": "(A)"},
        "not an object",
    ]
    (tmp_path / "tracking_shuffled_objects_three_objects.json").write_text(json.dumps({"examples": examples}))
    spec = {"loader": "bbh_file", "path": str(tmp_path), "objects": [3]}
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path} row 2: target 'B' is not an option letter like '(A)'")):
        load(spec)
    df, bad = load(spec, "skip")
    assert df["gold"].tolist() == ["(B)"]
    assert [m.split(": ", 1)[1] for m in bad.skipped] == [
        "target 'B' is not an option letter like '(A)'",
        "target (D) is not one of the options in the input",
        "missing or empty field 'input' (this row has fields 'target')",
        "expected an object with fields, found str",
    ]
    with pytest.raises(FileNotFoundError, match="tracking_shuffled_objects_five_objects.json"):
        load(dict(spec, objects=[5]))
    (tmp_path / "tracking_shuffled_objects_seven_objects.json").write_text('{"examples": ')
    with pytest.raises(ValueError, match="tracking_shuffled_objects_seven_objects.json: not valid UTF-8 JSON"):
        load(dict(spec, objects=[7]))


# --------------------------------------------------------------------------- generator
SWAP = re.compile(r"(\w+) and (\w+) (?:swap balls|trade books|exchange presents)")
ASKED = re.compile(r"(\w+) (?:holds the|is reading|has the)\nOptions:")


def replay(question: str) -> tuple[int, int, str]:
    """(objects, swaps, answer letter) read back from a question's text, independently of
    the generator: option j is what the j-th named person starts with."""
    options = re.findall(r"^\(([A-Z])\) ", question, re.M)
    people = tasks.PEOPLE[: len(options)]
    holder = list(range(len(people)))  # holder[p] = index of the object person p holds
    swaps = SWAP.findall(question)
    for a, b in swaps:
        i, j = people.index(a), people.index(b)
        holder[i], holder[j] = holder[j], holder[i]
    who = ASKED.search(question).group(1)
    return len(options), len(swaps), f"({options[holder[people.index(who)]]})"


def test_shuffled_objects_are_seeded_disjoint_and_exact():
    levels = sorted(tasks.SHUFFLED_LEVELS)
    per_level = {"test": 5, "train": 10}
    train = tasks.shuffled_objects_rows(levels, per_level, "train", seed=2)
    test = tasks.shuffled_objects_rows(levels, per_level, "test", seed=2)
    assert len(train) == 10 * len(levels) and len(test) == 5 * len(levels)
    assert train.equals(tasks.shuffled_objects_rows(levels, per_level, "train", seed=2))
    assert not train.equals(tasks.shuffled_objects_rows(levels, per_level, "train", seed=3))
    assert not set(train["question"]) & set(test["question"])
    assert set(train["answer_type"]) == {"choice"} and list(train.columns) == tasks.COLUMNS
    for question, gold, tier in train[["question", "gold", "tier"]].values:
        objects, swaps, answer = replay(question)
        assert (objects, swaps) == tasks.SHUFFLED_LEVELS[tier]
        assert answer == gold
    with pytest.raises(ValueError, match="shuffled_objects: unknown level 10"):
        tasks.shuffled_objects_rows([10], per_level, "train", 0)


def test_shuffled_objects_through_load_rows():
    spec = {"loader": "shuffled_objects", "levels": [1, 9], "per_level": {"train": 6}, "split": "train", "seed": 0}
    df, _ = load(spec)
    assert tasks.known_size(spec) == len(df) == 12
    assert tasks.known_size(dict(spec, limit=5)) is None  # a subsample is only known once loaded
    assert len(load(dict(spec, limit=5))[0]) == 5


def test_prepare_data_rule_with_new_loaders(tmp_path, tiny_model, bbh_dir):
    """The prepare_data rule loads a local BBH copy (its files are the rule's inputs) and a
    numeric subset, and logs what numeric_only dropped."""
    from workflow_helpers import snakemake, test_config, write_config

    from grpo_difficulty.files import read_table

    config = test_config(tiny_model)
    config["datasets"]["bbh"] = {"loader": "bbh_file", "path": str(bbh_dir), "objects": [3, 7]}
    config["datasets"]["nums"] = {
        "loader": "arithmetic",
        "levels": [2],
        "per_level": {"x": 3},
        "split": "x",
        "seed": 9,
        "numeric_only": True,
    }
    config["eval_sets"] = ["test", "bbh", "nums"]
    write_config(tmp_path, config)
    dry = snakemake(tmp_path, "-n", "--until", "prepare_data").stdout
    assert str(bbh_dir / "tracking_shuffled_objects_seven_objects.json") in dry
    snakemake(tmp_path, "--until", "prepare_data")
    [table] = (tmp_path / "results" / "data" / "bbh").glob("*.parquet")
    assert read_table(table)["tier"].value_counts().to_dict() == {3: 250, 7: 250}
    [log] = (tmp_path / "results" / "logs" / "data").glob("nums-*.log")
    assert "datasets.nums (arithmetic): numeric_only kept 3 of 3 rows, dropped 0" in log.read_text()
