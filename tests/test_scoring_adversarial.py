"""An answer is correct only when it states the gold value, once: a table of adversarial
completions (hedges, several values, wrong groupings, several boxes or letters) of which
none scores correct, and of legitimate ways to write the gold that all do, across answer
types and prompt formats. The same scorer is the training reward."""

import json
from decimal import Decimal

import pandas as pd
import pytest

from grpo_difficulty import evaluate, probe, tasks

# (completion, gold, answer type, prompt format)
ADVERSARIAL = [
    # integer answers: one number, nothing else
    (" 12.5", "12", "integer", "fewshot"),
    (" 12/5", "12", "integer", "fewshot"),
    (" 12 or 13", "12", "integer", "fewshot"),
    (" 12 or 13", "13", "integer", "fewshot"),
    (" 12-13", "12", "integer", "fewshot"),
    (" 12–13", "13", "integer", "fewshot"),
    (" 1,2", "12", "integer", "fewshot"),
    (" 12,00", "1200", "integer", "fewshot"),
    (" 12, 13", "12", "integer", "fewshot"),
    (" 12 13", "13", "integer", "fewshot"),
    (" 1 2", "12", "integer", "fewshot"),
    (" 12 and 13", "12", "integer", "fewshot"),
    (" either 12 or 13", "12", "integer", "fewshot"),
    (" not 12", "12", "integer", "fewshot"),
    (" It is not 12.", "12", "integer", "fewshot"),
    (" about 12", "12", "integer", "fewshot"),
    (" approximately 12", "12", "integer", "fewshot"),
    (" at least 12", "12", "integer", "fewshot"),
    (" more than 12", "12", "integer", "fewshot"),
    (" 12 or more", "12", "integer", "fewshot"),
    (" ~12", "12", "integer", "fewshot"),
    (" 12?", "12", "integer", "fewshot"),
    (" 12 apples and 13 pears", "13", "integer", "fewshot"),
    (" −12", "12", "integer", "fewshot"),
    (" 12 (or 13)", "12", "integer", "fewshot"),
    (" 12 ± 1", "12", "integer", "fewshot"),
    (" 11 < x < 13", "12", "integer", "fewshot"),
    (" 12 = 13", "13", "integer", "fewshot"),
    (" twelve", "12", "integer", "fewshot"),
    ("So \\boxed{12} or \\boxed{13}.", "12", "integer", "boxed"),
    ("\\boxed{12}\\boxed{13}", "13", "integer", "boxed"),
    ("\\boxed{12 \\text{ or } 13}", "12", "integer", "boxed"),
    ("<answer>12</answer> or <answer>13</answer>", "13", "integer", "xml"),
    ("<answer>12 or 13</answer>", "12", "integer", "xml"),
    # math answers: one reading, never two
    ("\\boxed{1 12}", "12", "math", "boxed"),
    ("\\boxed{1 12}", "13", "math", "boxed"),
    ("\\boxed{12, 13}", "12", "math", "boxed"),
    ("first \\boxed{12}, then \\boxed{13}", "13", "math", "boxed"),
    ("\\boxed{13}, no wait: \\boxed{12}", "12", "math", "boxed"),
    (" 12 or 13", "12", "math", "fewshot"),
    (" $12$ or $13$", "13", "math", "fewshot"),
    (" 12 13", "12", "math", "fewshot"),
    (" 1,2", "12", "math", "fewshot"),
    (" 12.5", "12", "math", "fewshot"),
    (" maybe 12", "12", "math", "fewshot"),
    (" The answer is not 12.", "12", "math", "fewshot"),
    ("<answer>12 \\text{ or } 13</answer>", "13", "math", "xml"),
    ("<answer>\\approx 12</answer>", "12", "math", "xml"),
    ("<answer>12</answer><answer>13</answer>", "12", "math", "xml"),
    ("\\boxed{\\{12, 13\\}}", "12", "math", "boxed"),
    ("\\boxed{12 \\pm 1}", "12", "math", "boxed"),
    ("\\boxed{12 = 13}", "13", "math", "boxed"),
    ("\\boxed{x = 12 = 13}", "12", "math", "boxed"),
    ("\\boxed{x = 12 \\text{ or } x = 13}", "12", "math", "boxed"),
    ("\\boxed{12 \\neq 13}", "12", "math", "boxed"),
    ("\\boxed{\\frac{12}{5}}", "12", "math", "boxed"),
    ("\\boxed{(2,2)}", "(2,2), (6,2)", "math", "boxed"),
    ("\\boxed{(2,2)} \\boxed{(6,2)} \\boxed{(1,1)}", "(2,2), (6,2)", "math", "boxed"),
    (" \\sqrt{144} or 13", "12", "math", "fewshot"),
    ("\\boxed{12?}", "12", "math", "boxed"),
    ("\\boxed{\\text{about } 12}", "12", "math", "boxed"),
    (" -12", "12", "math", "fewshot"),
    ("<answer>12 apples, 13 pears</answer>", "13", "math", "xml"),
    # math-verify reads the rest alone where it cannot parse a part: every number must count
    (" 12 | 13", "13", "math", "fewshot"),
    (" 12 \\to 13", "13", "math", "fewshot"),
    (" 12 \\lor 13", "13", "math", "fewshot"),
    (" 12 ... 13", "13", "math", "fewshot"),
    (" 12 \\\\ 13", "13", "math", "fewshot"),
    (" 12 & 13", "13", "math", "fewshot"),
    ("\\boxed{12 \\text{ (or 13)}}", "13", "math", "boxed"),
    (" 12_{13}", "12", "math", "fewshot"),
    (" 12 or thirteen", "12", "math", "fewshot"),
    (" 12 thousand", "12", "math", "fewshot"),
    (" 12, give or take", "12", "math", "fewshot"),
    (" 12 at minimum", "12", "integer", "fewshot"),
    (" 1200%", "12", "math", "fewshot"),
    (" 12!", "12", "integer", "fewshot"),
    # choice answers: one letter
    (" A or B", "(A)", "choice", "fewshot"),
    (" (A) or (B)", "(B)", "choice", "fewshot"),
    (" A, B", "(A)", "choice", "fewshot"),
    (" A/B", "(B)", "choice", "fewshot"),
    (" A and B", "(A)", "choice", "fewshot"),
    (" (A) (B)", "(A)", "choice", "fewshot"),
    (" (A)(B)", "(B)", "choice", "fewshot"),
    (" A B", "(B)", "choice", "fewshot"),
    (" A & B", "(A)", "choice", "fewshot"),
    (" not A", "(A)", "choice", "fewshot"),
    (" B, not A", "(B)", "choice", "fewshot"),
    (" either A or B", "(A)", "choice", "fewshot"),
    (" A?", "(A)", "choice", "fewshot"),
    (" maybe (A)", "(A)", "choice", "fewshot"),
    (" AB", "(A)", "choice", "fewshot"),
    ("\\boxed{A} \\boxed{B}", "(B)", "choice", "boxed"),
    ("\\boxed{A or B}", "(A)", "choice", "boxed"),
    ("<answer>A</answer><answer>B</answer>", "(A)", "choice", "xml"),
    ("<answer>(A) or (C)</answer>", "(C)", "choice", "xml"),
    # text answers: one text
    (" Yes or no", "Yes", "text", "fewshot"),
    (" Yes/No", "Yes", "text", "fewshot"),
    (" not yes", "Yes", "text", "fewshot"),
    ("<answer>Yes</answer><answer>No</answer>", "Yes", "text", "xml"),
    ("\\boxed{Yes} \\boxed{No}", "No", "text", "boxed"),
]

LEGITIMATE = [
    (" The answer is 1,234.", "1234", "integer", "fewshot"),
    (" $1,234", "1234", "integer", "fewshot"),
    (" 1,234 apples", "1234", "integer", "fewshot"),
    (" -7", "-7", "integer", "fewshot"),
    (" −7", "-7", "integer", "fewshot"),
    (" – 7", "-7", "integer", "fewshot"),
    (" 12.", "12", "integer", "fewshot"),
    (" 12.0", "12", "integer", "fewshot"),
    (" **12**", "12", "integer", "fewshot"),
    (" x = 12", "12", "integer", "fewshot"),
    (" Answer: 12", "12", "integer", "fewshot"),
    (" $12.00", "12", "integer", "fewshot"),
    (" 12 dollars", "12", "integer", "fewshot"),
    (" She has a total of 12 apples.", "12", "integer", "fewshot"),
    ("\\boxed{12}", "12", "integer", "boxed"),
    ("That is \\boxed{12} apples, so the answer is \\boxed{12}.", "12", "integer", "boxed"),
    ("<answer>12</answer>", "12", "integer", "xml"),
    ("<answer>$12$</answer>", "12", "integer", "xml"),
    ("\\boxed{\\frac{1}{2}}", "0.5", "math", "boxed"),
    (" 0.5", "\\frac{1}{2}", "math", "fewshot"),
    (" 1/2", "\\frac{1}{2}", "math", "fewshot"),
    ("\\boxed{\\dfrac{1}{2}}", "\\frac{1}{2}", "math", "boxed"),
    ("\\boxed{(2,2)} and \\boxed{(6,2)}", "(2,2), (6,2)", "math", "boxed"),
    ("\\boxed{(6,2), (2,2)}", "(2,2), (6,2)", "math", "boxed"),
    (" The answer is $\\frac{\\sqrt{3}}{2}$.", "\\frac{\\sqrt{3}}{2}", "math", "fewshot"),
    ("<answer>2\\sqrt{3}</answer>", "2\\sqrt{3}", "math", "xml"),
    ("\\boxed{\\sqrt{12}}", "2\\sqrt{3}", "math", "boxed"),
    (" 10,000", "10000", "math", "fewshot"),
    ("\\boxed{10{,}000}", "10000", "math", "boxed"),
    ("\\boxed{1,\\!000}", "1000", "math", "boxed"),
    ("\\boxed{1\\,000}", "1{,}000", "math", "boxed"),
    (" −7", "-7", "math", "fewshot"),
    ("\\boxed{-\\frac{7}{2}}", "-3.5", "math", "boxed"),
    (" $18", "18", "math", "fewshot"),
    (" 18 dollars", "18", "math", "fewshot"),
    (" Janet makes $18 every day.", "18", "math", "fewshot"),
    (" 16 - 3 - 4 = 9", "9", "math", "fewshot"),
    ("\\boxed{x = 3}", "3", "math", "boxed"),
    ("\\boxed{\\{-1, 2\\}}", "\\{-1, 2\\}", "math", "boxed"),
    ("<answer>\\text{odd}</answer>", "\\text{odd}", "math", "xml"),
    (" 12%", "12", "math", "fewshot"),
    ("\\boxed{12!}", "479001600", "math", "boxed"),
    (" 18", "18\\%", "math", "fewshot"),
    (" (B)", "(B)", "choice", "fewshot"),
    (" B)", "(B)", "choice", "fewshot"),
    (" B", "(B)", "choice", "fewshot"),
    (" B) blue ball", "(B)", "choice", "fewshot"),
    (" The answer is (B).", "(B)", "choice", "fewshot"),
    (" Answer: B", "(B)", "choice", "fewshot"),
    (" **B**", "(B)", "choice", "fewshot"),
    (" Option B", "(B)", "choice", "fewshot"),
    (" (B) No", "(B)", "choice", "fewshot"),
    ("\\boxed{B}", "(B)", "choice", "boxed"),
    ("\\boxed{\\text{(B)}}", "(B)", "choice", "boxed"),
    ("<answer>B</answer>", "(B)", "choice", "xml"),
    (" new  york.", "New York", "text", "fewshot"),
    ("<answer>**New York**</answer>", "New York", "text", "xml"),
    ("\\boxed{\\text{New York}}", "New York", "text", "boxed"),
]


def test_tables_are_large_enough(record_property):
    counts = {"adversarial": len(ADVERSARIAL), "legitimate": len(LEGITIMATE)}
    print(f"scoring tables: {json.dumps(counts)}")
    record_property("scoring_tables", counts)
    assert counts["adversarial"] >= 60 and counts["legitimate"] >= 30
    for table in (ADVERSARIAL, LEGITIMATE):
        assert {kind for _, _, kind, _ in table} == set(tasks.ANSWER_TYPES)
        assert {fmt for _, _, _, fmt in table} == {"fewshot", "boxed", "xml"}


@pytest.mark.parametrize("completion, gold, kind, fmt", ADVERSARIAL)
def test_adversarial_answers_score_wrong(completion, gold, kind, fmt):
    correct, reason = tasks.score(completion, gold, kind, fmt)
    assert not correct and reason in tasks.REASONS and reason != "correct"


@pytest.mark.parametrize("completion, gold, kind, fmt", LEGITIMATE)
def test_legitimate_answers_score_correct(completion, gold, kind, fmt):
    assert tasks.gold_problem(gold, kind) is None
    assert tasks.score(completion, gold, kind, fmt) == (True, "correct")


def test_a_math_verify_timeout_is_its_own_reason_counted_in_logs():
    slow = "\\boxed{2^{2^{30}}}"  # sympy evaluates the power: longer than the 1 s limit
    assert tasks.score(slow, "3", "math", "boxed", timeout=1) == (False, "timeout")
    scored = [tasks.score(c, "3", "math", "boxed", timeout=1) for c in (slow, "\\boxed{3}", "\\boxed{3} \\boxed{4}")]
    block = pd.DataFrame(
        {"id": "p", "sample": range(3), "correct": [ok for ok, _ in scored], "reason": [r for _, r in scored]}
    )
    assert probe.sample_reasons([block], k=3) == "correct 1, hedged 1, timeout 1"
    assert probe.sample_reasons([block], k=1) == "timeout 1"
    predictions = block.assign(tier=1, subject="s", n_samples=0, n_samples_correct=0)
    assert evaluate.summarize(predictions)["reasons"] == {"correct": 1, "hedged": 1, "timeout": 1}


def test_real_gsm8k_golds_score_when_stated_once_and_not_when_hedged(gsm8k_dir):
    rows = tasks.load_rows({"loader": "gsm8k_file", "path": str(gsm8k_dir / "test.jsonl")}, tasks.BadRows("gsm8k"))
    for gold in rows["gold"].head(60):
        number = Decimal(gold)
        grouped = f"{number:,}"
        for completion, fmt in [
            (f" {gold}", "fewshot"),
            (f" The answer is ${grouped}.", "fewshot"),
            (f"so the total is \\boxed{{{grouped}}}", "boxed"),
            (f"<reasoning>...</reasoning><answer>{gold}</answer>", "xml"),
        ]:
            assert tasks.score(completion, gold, "math", fmt) == (True, "correct"), completion
        for completion, fmt in [
            (f" {gold} or {number + 1}", "fewshot"),
            (f" about {gold}", "fewshot"),
            (f"\\boxed{{{gold}}} or \\boxed{{{number - 1}}}", "boxed"),
            (f"<answer>{gold}, {number * 2}</answer>", "xml"),
        ]:
            assert not tasks.score(completion, gold, "math", fmt)[0], completion


def test_real_bbh_golds_score_when_one_letter_is_given(bbh_dir):
    rows = tasks.load_rows({"loader": "bbh_file", "path": str(bbh_dir), "objects": [3]}, tasks.BadRows("bbh"))
    for gold in rows["gold"].head(60):
        letter, other = gold[1], "A" if gold != "(A)" else "B"
        for completion, fmt in [
            (f" {gold}", "fewshot"),
            (f" {letter}) ...", "fewshot"),
            (f"\\boxed{{{letter}}}", "boxed"),
        ]:
            assert tasks.score(completion, gold, "choice", fmt) == (True, "correct"), completion
        for completion in (f" {letter} or {other}", f" ({other}) or {gold}", f" not {letter}"):
            assert tasks.score(completion, gold, "choice", "fewshot") == (False, "hedged"), completion


@pytest.mark.parametrize("fmt", ["fewshot", "boxed", "xml"])
def test_the_training_reward_is_this_scorer(fmt):
    from grpo_difficulty.trainer.rewards import correctness_reward

    reward = correctness_reward(fmt)
    for table, expected in ((ADVERSARIAL, 0.0), (LEGITIMATE, 1.0)):
        rows = [row for row in table if row[3] == fmt]
        completions, golds, kinds = ([row[i] for row in rows] for i in range(3))
        assert reward(None, completions, golds, kinds) == [expected] * len(rows)
