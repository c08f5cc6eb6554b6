import dataclasses
import json

import pandas as pd
import pytest
from hub_fixtures import write_hub_repo

from grpo_difficulty import tasks
from grpo_difficulty.config.sections import PromptConfig


def test_arithmetic_is_seeded_disjoint_and_exact():
    per_level = {"test": 10, "train": 20}
    train = tasks.arithmetic_rows([1, 5, 8], per_level, "train", seed=3)
    test = tasks.arithmetic_rows([1, 5, 8], per_level, "test", seed=3)
    assert len(train) == 60 and len(test) == 30
    assert train.equals(tasks.arithmetic_rows([1, 5, 8], per_level, "train", seed=3))
    assert not set(train["question"]) & set(test["question"])
    assert sorted(train["tier"].unique()) == [1, 5, 8]
    for q, gold in train[["question", "gold"]].values:
        expression = q.removeprefix("What is ").removesuffix("?")
        assert int(gold) == eval(expression)
    assert list(train.columns) == tasks.COLUMNS


def test_arithmetic_rejects_impossible_requests():
    with pytest.raises(ValueError, match="level 1 has too few distinct problems"):
        tasks.arithmetic_rows([1], {"train": 150}, "train", 0)  # only 100 one-digit sums exist
    with pytest.raises(ValueError, match="unknown level 12"):
        tasks.arithmetic_rows([12], {"train": 5}, "train", 0)


def test_gsm8k_gold_and_tier():
    df = tasks.gsm8k_frame([{"question": "q1", "answer": "a = 1\nb = 2\n#### 1,234"}], tasks.BadRows("mem"))
    assert df.loc[0, "gold"] == "1234" and df.loc[0, "tier"] == 2 and df.loc[0, "answer_type"] == "math"


@pytest.mark.parametrize(
    "record, message",
    [
        ({"question": "", "answer": "#### 3"}, "row 1: missing or empty field 'question'"),
        ({"question": "q"}, "row 1: missing or empty field 'answer'"),
        ({"question": "q", "answer": "no final line"}, r"row 1: answer has no '#### <final answer>'"),
        ({"question": "q", "answer": "#### twelve"}, r"row 1: final answer 'twelve' after '####' is not a number"),
    ],
)
def test_gsm8k_bad_rows_name_the_row(record, message):
    with pytest.raises(ValueError, match="bad.jsonl " + message):
        tasks.gsm8k_frame([record], tasks.BadRows("bad.jsonl"))


def test_duplicate_questions_are_an_error():
    recs = [{"question": "same", "answer": "#### 1"}, {"question": "same ", "answer": "#### 2"}]
    with pytest.raises(ValueError, match=r"dup.jsonl row 2: duplicate question \(same as row 1\)"):
        tasks.gsm8k_frame(recs, tasks.BadRows("dup.jsonl"))


def test_bad_rows_can_be_skipped_counted_and_logged(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                b'{"question": "What is 1+1?", "answer": "#### 2"}',
                b'{"question": "caf\xe9?", "answer": "#### 1"}',  # not UTF-8
                b'{"question": "", "answer": "#### 3"}',  # empty question
                b'{"question": "What is 1+1?", "answer": "#### 2"}',  # repeated
                b'{"question": "What is 2+2?", "answer": "#### four"}',  # unscorable gold
                b'{"question": "What is 3+3?", "answer": "#### 6"}',
            ]
        )
    )
    spec = {"loader": "gsm8k_file", "path": str(path), "bad_rows": "skip"}
    bad = tasks.BadRows(tasks.dataset_source(spec), "skip", dataset="train")
    df = tasks.load_rows(spec, bad)
    assert df["question"].tolist() == ["What is 1+1?", "What is 3+3?"]
    assert sorted(m.split(": ", 1)[0] for m in bad.skipped) == [
        f"datasets.train ({path}) line {i}" for i in (2, 3, 4, 5)
    ]
    assert bad.summary().startswith(f"datasets.train ({path}): skipped 4 bad row(s)")
    with pytest.raises(ValueError, match=f"{path} line 2: not valid UTF-8"):
        tasks.load_rows(spec, tasks.BadRows(str(path)))


def test_gsm8k_file_loader_on_shared_data(gsm8k_dir):
    df = tasks.load_rows({"loader": "gsm8k_file", "path": str(gsm8k_dir / "test.jsonl")}, tasks.BadRows("gsm8k"))
    assert len(df) == 1319
    assert df["id"].is_unique
    assert df["tier"].between(1, 12).all()
    first = json.loads((gsm8k_dir / "test.jsonl").read_text().splitlines()[0])
    assert df.loc[0, "gold"] == first["answer"].rsplit("####", 1)[1].strip().replace(",", "")


def test_file_loader_custom_fields_and_parquet(tmp_path):
    path = tmp_path / "mine.parquet"
    pd.DataFrame({"problem": ["What is 2+2?"], "sol": ["2+2=4\n#### 4"]}).to_parquet(path)
    df = tasks.load_rows(
        {"loader": "gsm8k_file", "path": str(path), "question_field": "problem", "answer_field": "sol"},
        tasks.BadRows("mine"),
    )
    assert df.loc[0, "gold"] == "4" and df.loc[0, "tier"] == 1


def test_hub_loader_through_datasets_load_dataset(tmp_path, gsm8k_dir):
    """The real hub code path, pointed at a local folder laid out like openai/gsm8k."""
    records = [json.loads(line) for line in (gsm8k_dir / "train.jsonl").read_text().splitlines()[:25]]
    write_hub_repo(tmp_path, {"main/train.jsonl": records}, {"main": {"train": "main/train.jsonl"}})
    df = tasks.load_rows(
        {"loader": "gsm8k_hub", "path": str(tmp_path), "name": "main", "split": "train", "limit": 10, "seed": 1},
        tasks.BadRows(f"{tmp_path}:train"),
    )
    assert len(df) == 10 and set(df["source"]) == {f"{tmp_path}:train"}


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        tasks.load_rows({"loader": "gsm8k_file", "path": str(tmp_path / "nope.jsonl")}, tasks.BadRows("x"))


def test_non_utf8_file_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"question": "caf\xe9", "answer": "#### 1"}\n')
    with pytest.raises(ValueError, match="bad.jsonl line 1: not valid UTF-8"):
        tasks.load_rows({"loader": "gsm8k_file", "path": str(path)}, tasks.BadRows(str(path)))


@pytest.mark.parametrize(
    "completion, gold, kind, fmt, expected",
    [
        (" 42", "42", "integer", "fewshot", (True, "correct")),
        (" 41", "42", "integer", "fewshot", (False, "wrong")),
        (" 1,234 apples", "1234", "integer", "fewshot", (True, "correct")),
        ("", "42", "integer", "fewshot", (False, "empty")),
        (" apples", "42", "integer", "fewshot", (False, "unparsable")),
        ("so \\boxed{\\frac{1}{2}}", "0.5", "math", "boxed", (True, "correct")),
        ("the answer is 12", "12", "math", "boxed", (False, "no_answer")),
        ("<reasoning>2*6</reasoning><answer>12</answer>", "12", "math", "xml", (True, "correct")),
        (" 18 dollars", "18", "math", "fewshot", (True, "correct")),
        (" 17", "18", "math", "fewshot", (False, "wrong")),
    ],
)
def test_score(completion, gold, kind, fmt, expected):
    assert tasks.score(completion, gold, kind, fmt) == expected


def test_unparsable_gold_is_an_error():
    df = pd.DataFrame({"gold": ["12", "not a number"], "answer_type": ["integer", "integer"]})
    with pytest.raises(ValueError, match="src row 2: gold 'not a number' is not an integer"):
        tasks.validate_golds(df, tasks.BadRows("src"))


def test_train_test_overlap_is_detected():
    """Every overlapping eval set is named by its config key, with the training set's."""
    train = pd.DataFrame({"question": ["x", "y", "w"]})
    ok = pd.DataFrame({"question": ["v", "z"]})
    assert tasks.check_disjoint("train", train, {"ok": ok}) == {"datasets.train": 3, "datasets.ok": 2}
    overlapping = {
        "test": pd.DataFrame({"question": ["z", "y "]}),
        "ok": ok,
        "leak": pd.DataFrame({"question": [" w", "x"]}),
    }
    with pytest.raises(ValueError) as error:
        tasks.check_disjoint("train", train, overlapping)
    assert str(error.value) == (
        "eval set datasets.test shares 1 of its 2 question(s) with the training set datasets.train (train_set), "
        "e.g. 'y'; eval set datasets.leak shares 2 of its 2 question(s) with the training set datasets.train "
        "(train_set), e.g. 'w'"
    )


@pytest.mark.parametrize(
    "completion, fmt, expected",
    [
        (" (B)", "fewshot", (True, "correct")),
        (" B", "fewshot", (True, "correct")),
        (" B) blue ball\nmore text", "fewshot", (True, "correct")),
        (" (A)", "fewshot", (False, "wrong")),
        (" the blue ball", "fewshot", (False, "unparsable")),
        ("Bob ends with it, so \\boxed{B}", "boxed", (True, "correct")),
        ("\\boxed{(B)}", "boxed", (True, "correct")),
        ("\\boxed{\\text{(B)}}", "boxed", (True, "correct")),
        ("\\boxed{C}", "boxed", (False, "wrong")),
        ("the answer is (B)", "boxed", (False, "no_answer")),
        ("<reasoning>swap twice</reasoning><answer>(B)</answer>", "xml", (True, "correct")),
        ("<reasoning>swap twice</reasoning><answer> B </answer>", "xml", (True, "correct")),
        ("<answer>(C) green</answer>", "xml", (False, "wrong")),
        ("<answer>blue</answer>", "xml", (False, "unparsable")),
        ("(B)", "xml", (False, "no_answer")),
    ],
)
def test_multiple_choice_scoring_in_every_format(completion, fmt, expected):
    assert tasks.score(completion, "(B)", "choice", fmt) == expected


@pytest.mark.parametrize(
    "completion, gold, fmt, expected",
    [
        ("so $\\boxed{\\frac{\\sqrt{3}}{2}}$.", "\\frac{\\sqrt{3}}{2}", "boxed", (True, "correct")),
        ("\\boxed{\\frac{\\sqrt{3}}{3}}", "\\frac{\\sqrt{3}}{2}", "boxed", (False, "wrong")),
        ("\\boxed{\\{-1, 2\\}}", "\\{-1, 2\\}", "boxed", (True, "correct")),
        # two different boxes are one answer read together, here {1, {-1, 2}}: not the gold
        ("first \\boxed{1}, finally \\boxed{\\{-1, 2\\}}", "\\{-1, 2\\}", "boxed", (False, "wrong")),
        ("<answer>2\\sqrt{3}</answer>", "2\\sqrt{3}", "xml", (True, "correct")),
        ("<answer>2</answer>", "2\\sqrt{3}", "xml", (False, "wrong")),
        ("<answer>$\\frac{1}{2}$</answer>", "0.5", "xml", (True, "correct")),
        (" 1/2", "\\frac{1}{2}", "fewshot", (True, "correct")),
    ],
)
def test_latex_answers_in_every_format(completion, gold, fmt, expected):
    assert tasks.score(completion, gold, "math", fmt) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("\\boxed{\\frac{a}{b}}", ["\\frac{a}{b}"]),
        ("\\boxed{1} and then \\boxed{2}", ["1", "2"]),
        ("\\boxed{\\{1, 2\\}}", ["\\{1, 2\\}"]),
        ("\\boxed {x^{2}}", ["x^{2}"]),
        ("\\fbox{7}", ["7"]),
        ("so $\\boxed 5$.", ["5"]),
        ("\\boxed{\\boxed{4}}", ["\\boxed{4}"]),  # the outermost box
        ("\\boxed{3} then \\boxed{\\frac{1}{2}", ["3"]),  # a truncated box is none
        ("no box", []),
    ],
)
def test_all_boxed(text, expected):
    assert tasks.all_boxed(text) == expected


def test_boxed_answer_reads_every_box_together():
    assert tasks.boxed_answer("\\boxed{(2,2)} and \\boxed{(6,2)}, again \\boxed{(2,2)}") == "(2,2), (6,2)"
    assert tasks.boxed_answer("\\boxed{ }") is None and tasks.boxed_answer("none") is None


CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture
def chat_tokenizer(tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def test_render_prompt_formats(fewshot_prompt, tiny_model):
    text = tasks.render_prompt("What is 1 + 1?", fewshot_prompt)
    assert text.endswith("Q: What is 1 + 1?\nA:") and "Q: What is 6 * 7?\nA: 42\n\n" in text
    assert "\\boxed{}" in tasks.render_prompt("q", PromptConfig(format="boxed"))
    assert tasks.stop_strings(fewshot_prompt) == ["\n"] and tasks.stop_strings(PromptConfig(format="xml")) == []


@pytest.mark.parametrize("fmt", ["fewshot", "boxed", "xml"])
def test_system_prompt_and_chat_template_in_every_format(fmt, fewshot_prompt, chat_tokenizer):
    prompt = dataclasses.replace(fewshot_prompt, format=fmt, system="You are careful.")
    plain = tasks.render_prompt("What is 1 + 1?", prompt)
    assert plain.startswith("You are careful.\n\n") and "What is 1 + 1?" in plain
    chat = tasks.render_prompt("What is 1 + 1?", dataclasses.replace(prompt, chat_template=True), chat_tokenizer)
    assert chat.startswith("<|system|>You are careful.\n") and chat.endswith("<|assistant|>")
    if fmt == "fewshot":  # examples become turns; no Q:/A: scaffolding inside a chat
        assert "<|user|>What is 3 + 4?\n<|assistant|>7\n<|user|>What is 6 * 7?\n<|assistant|>42\n" in chat
        assert chat.endswith("<|user|>What is 1 + 1?\n<|assistant|>")
    else:
        assert f"<|user|>{tasks.FORMAT_INSTRUCTIONS[fmt]}\n\nWhat is 1 + 1?\n<|assistant|>" in chat
        assert "3 + 4" not in chat and "3 + 4" not in plain  # few-shot examples belong to fewshot only
    no_system = tasks.render_prompt("q", dataclasses.replace(prompt, system=None, chat_template=True), chat_tokenizer)
    assert "<|system|>" not in no_system


def test_chat_template_needs_one(fewshot_prompt, tiny_model):
    from transformers import AutoTokenizer

    with pytest.raises(ValueError, match="prompt.chat_template is true but the model's tokenizer has no chat template"):
        tasks.render_prompt(
            "q", dataclasses.replace(fewshot_prompt, chat_template=True), AutoTokenizer.from_pretrained(tiny_model)
        )
