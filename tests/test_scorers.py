"""Your own verifier (datasets.<name>.scorer): loading a file or module scorer, its checks
(errors naming the function, the dataset and the row), its timeout, its place in the
keys, the Countdown generator and its verifier written as a plugin."""

import random
import threading
import time

import pytest
import yaml
from workflow_helpers import ROOT

from grpo_difficulty import tasks
from grpo_difficulty.config.checks import load_config
from grpo_difficulty.config.keys import data_key, probe_fields, probe_key, scorer_fields
from grpo_difficulty.config.sections import ConfigError
from grpo_difficulty.tasks.countdown import countdown_problem
from grpo_difficulty.tasks.plugins import PluginScorer, ScorerError, call_with_timeout, scorer_reference

COUNTDOWN = "examples/countdown_scorer.py:score"


def countdown() -> PluginScorer:
    return PluginScorer(scorer_reference({"scorer": COUNTDOWN}, "countdown_train"))


ROW = {"numbers": [1, 3, 4, 6], "target": 24}
VERDICTS = [
    ("6 / (1 - 3 / 4)", True),  # a non-integer intermediate (3/4): exact arithmetic allows it
    ("6/(1-3/4) = 24", True),
    ("A: (4 - 3 + 1) * 6 * 1", False),  # 1 used twice
    ("(4 - 1) * (6 + 3) - 3", False),  # 3 used twice, value 24
    ("6 * 4", False),  # 1 and 3 unused
    ("6 * 4 * (3 - 1 - 1)", False),  # 1 twice, 24 nonetheless
    ("6 × 4 × (3 − 1 − 1)", False),
    ("6 / (1 - 3 / (4 - 4))", False),  # 4 twice, and a division by zero
    ("6 * (4 - 3 + 1)", False),  # 1 and 4 fine, value 12
    ("(6 / (3 - 3)) * 4 + 1", False),  # division by zero
    ("(1 + 3) * 6 * 4 / 4", False),
    ("24", False),  # a number not given
    ("6 * 4 * 1 ** 3", False),  # ** is no Countdown operator
    ("-1 + 3 * 6 + 4 + 3", False),  # unary minus
    ("6.0 * 4 * (3 - 1 - 1)", False),  # a decimal
    ("(3 + 1) * 6 * (4 / 4)", False),
    ("1 * 3 * 4 * 6", False),  # 72
    ("(3 - 1) * 6 + 4 * 3", False),
    ("3 * 4 * 6 / 3", False),
    ("<answer>6 / (1 - 3 / 4)</answer>", True),
    ("Let me think.\n6 / (1 - 3 / 4)", True),
    ("__import__('os').system('touch /tmp/pwned') or 24", False),  # eval injection: never run
    ("(lambda: 24)()", False),
    ("[6 / (1 - 3 / 4)][0]", False),
    ("globals()", False),
    ("6 / (1 - 3 / 4) if True else 0", False),
    ("(" * 150 + "6" + ")" * 150, False),  # too long
    ("", False),
    ("six times four", False),
]


@pytest.mark.parametrize("completion, correct", VERDICTS)
def test_countdown_verifier(completion, correct):
    assert countdown().reward(completion, "", ROW, "p1") == (1.0 if correct else 0.0, "correct" if correct else "wrong")


def test_countdown_generator_levels_are_solvable_by_their_gold():
    scorer = countdown()
    for level in (2, 3, 4, 5, 6):
        rng = random.Random(level)
        for _ in range(20):
            question, gold, record = countdown_problem(level, rng)
            assert len(record["numbers"]) == level and str(record["target"]) in question
            assert scorer.reward(gold, gold, record, "g") == (1.0, "correct"), (question, gold)
    rows = tasks.load_rows(
        dict(loader="countdown", levels=[3, 5], per_level={"test": 3, "train": 4}, split="train", bad_rows="error"),
        tasks.BadRows("countdown"),
    )
    assert rows["tier"].tolist() == [3] * 4 + [5] * 4 and set(rows["answer_type"]) == {"scorer"}
    fields = tasks.row_fields(rows.iloc[0].to_dict())
    assert sorted(fields) == ["numbers", "target"] and len(fields["numbers"]) == 3
    with pytest.raises(ValueError, match="scored by its dataset's scorer plugin"):
        tasks.score(rows["gold"][0], rows["gold"][0], "scorer", "fewshot")


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_file_and_module_scorers_load(tmp_path, monkeypatch):
    write(
        tmp_path / "mine" / "judge.py",
        "from helper import half\n\n\ndef judge(completion, gold, row):\n    return half\n",
    )
    write(tmp_path / "mine" / "helper.py", "half = 0.5\n")
    write(tmp_path / "pkg_scorer" / "__init__.py", "def check(completion, gold, row):\n    return completion == gold\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for text in ("mine/judge.py:judge", f"{tmp_path}/mine/judge.py:judge"):  # relative to the working directory
        assert PluginScorer(scorer_reference({"scorer": text}, "d")).reward("x", "y", {}, 1) == (0.5, "partial")
    module = PluginScorer(scorer_reference({"scorer": "pkg_scorer:check", "scorer_timeout": 2}, "d"))
    assert module.reward("7", "7", {}, 1) == (1.0, "correct") and module.timeout == 2.0
    # the workflow directory is the second place a relative path is looked for
    assert (
        scorer_reference({"scorer": COUNTDOWN}, "d")["source"]
        == scorer_reference({"scorer": f"{ROOT}/{COUNTDOWN}"}, "d")["source"]
    )
    for text, message in [
        ("mine/nothing.py:judge", "file not found: .*mine/nothing.py nor"),
        ("mine/judge.py:nope", "defines no 'nope' at its top level"),
        ("no_such_module_xyz:f", "module 'no_such_module_xyz' cannot be found"),
        ("mine/judge.py", "is not '<file.py or module>:<function>'"),
    ]:
        with pytest.raises(ValueError, match=message):
            scorer_reference({"scorer": text}, "d")


@pytest.mark.parametrize(
    "body, message",
    [
        ("raise KeyError('numbers')", "raised KeyError: 'numbers'"),
        ("return 1.5", "returned 1.5, outside \\[0, 1\\]"),
        ("return -0.1", "returned -0.1, outside"),
        ("return float('nan')", "returned nan, outside"),
        ("return 'yes'", "returned 'yes' of type str, not a bool or a number"),
        ("return None", "returned None of type NoneType"),
    ],
)
def test_a_bad_scorer_names_the_function_dataset_and_row(tmp_path, monkeypatch, body, message):
    write(tmp_path / "bad.py", f"def verdict(completion, gold, row):\n    {body}\n")
    monkeypatch.chdir(tmp_path)
    scorer = PluginScorer(scorer_reference({"scorer": "bad.py:verdict"}, "puzzles"))
    with pytest.raises(ScorerError, match=message) as err:
        scorer.reward("my answer", "g", {"target": 7}, "row-17")
    text = str(err.value)
    assert text.startswith("scorer bad.py:verdict of datasets.puzzles ")
    assert "on row id 'row-17' (fields {\"target\": 7}), completion 'my answer'" in text


def test_scorer_values_that_are_rewards(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    values = (("True", 1.0), ("False", 0.0), ("0", 0.0), ("np.float32(0.25)", 0.25), ("np.bool_(True)", 1.0))
    for i, (value, reward) in enumerate(values):
        write(tmp_path / f"ok{i}.py", f"import numpy as np\n\n\ndef f(completion, gold, row):\n    return {value}\n")
        assert PluginScorer(scorer_reference({"scorer": f"ok{i}.py:f"}, "d")).reward("", "", {}, 0)[0] == reward


def test_a_slow_scorer_times_out_in_the_main_thread_and_in_others(tmp_path, monkeypatch):
    write(
        tmp_path / "slow.py",
        "import time\n\ndef spin(completion, gold, row):\n    try:\n        while True:\n"
        "            time.sleep(0.01)\n    except Exception:\n        return 1.0\n",
    )
    monkeypatch.chdir(tmp_path)
    scorer = PluginScorer(scorer_reference({"scorer": "slow.py:spin", "scorer_timeout": 0.2}, "d"))
    started = time.time()
    assert scorer.reward("x", "g", {}, 1) == (0.0, "timeout")  # its `except Exception` does not swallow it
    assert time.time() - started < 2
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(scorer.reward("x", "g", {}, 1)))
    worker.start()
    worker.join(5)
    assert outcome == [(0.0, "timeout")]
    assert call_with_timeout(lambda a: a + 1, (1,), 1.0) == 2  # the timer is off again: no alarm later
    time.sleep(0.3)


def countdown_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "experiments" / "countdown-cpu.yaml").read_text())


def test_countdown_config_and_scorer_checks(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    cfg = load_config(countdown_config())
    reference = scorer_fields(cfg, "countdown_train")["scorer"]
    assert reference["scorer"] == COUNTDOWN and reference["dataset"] == "countdown_train" and reference["timeout"] == 5
    assert probe_fields(cfg)["scorer"] == reference
    for change, message in [
        (lambda d: d.pop("scorer"), "datasets.countdown_train.scorer: loader 'countdown' makes rows only a plugin"),
        (lambda d: d.update(scorer="examples/missing.py:score"), "datasets.countdown_train.scorer: file not found"),
        (lambda d: d.update(scorer="examples/countdown_scorer.py:grade"), "defines no 'grade'"),
    ]:
        config = countdown_config()
        change(config["datasets"]["countdown_train"])
        with pytest.raises(ConfigError, match=message):
            load_config(config)
    config = countdown_config()
    config["datasets"]["arith"] = dict(loader="arithmetic", levels=[1], per_level={"x": 2}, split="x", scorer_timeout=1)
    with pytest.raises(ConfigError, match="datasets.arith.scorer_timeout: limits a plugin scorer's calls"):
        load_config(config)


def test_the_scorer_source_is_in_the_probe_key_not_the_data_key(tmp_path, monkeypatch):
    """Editing a scorer moves the probe (and the training and evaluation params that
    scorer_fields gives), never the prepared table; a file dataset keeps its records once
    it has a scorer at all."""
    write(tmp_path / "judge.py", "def judge(completion, gold, row):\n    return True\n")
    write(tmp_path / "mine.jsonl", '{"question": "q1", "answer": "1"}\n')
    monkeypatch.chdir(tmp_path)
    config = countdown_config()
    config["datasets"]["countdown_train"]["scorer"] = "judge.py:judge"
    config["datasets"]["mine"] = dict(loader="file", path="mine.jsonl")
    before = load_config(yaml.safe_load(yaml.safe_dump(config)))
    spec, mine = before.datasets["countdown_train"], before.datasets["mine"]
    key, fields = probe_key(before), scorer_fields(before, "countdown_train")  # read from the file now
    write(tmp_path / "judge.py", "def judge(completion, gold, row):\n    return False\n")
    after = load_config(yaml.safe_load(yaml.safe_dump(config)))
    assert key != probe_key(after) and fields != scorer_fields(after, "countdown_train")
    assert {k: v for k, v in probe_fields(after).items() if k != "scorer"} == {
        k: v for k, v in probe_fields(before).items() if k != "scorer"
    }
    assert scorer_fields(after, "countdown_test")["scorer"]["scorer"] == COUNTDOWN
    assert data_key(spec) == data_key(after.datasets["countdown_train"]) == data_key({**spec, "scorer": COUNTDOWN})
    assert data_key(mine) != data_key({**mine, "scorer": "judge.py:judge"})
    with_scorer = data_key({**mine, "scorer": "judge.py:judge"})
    assert with_scorer == data_key({**mine, "scorer": COUNTDOWN, "scorer_timeout": 9})
    assert "scorer" not in tasks.table_spec({**mine, "scorer": "judge.py:judge"})
