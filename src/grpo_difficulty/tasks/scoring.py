"""Scoring: a completion's final answer checked against the gold answer, by answer type.

An answer is correct only when it states the gold value, once (spans.py reads what a
span states): `integer` one number equal to the gold; `math` its one reading equal to
the gold's under math-verify; `choice` one option letter; `text` one text, equal to the
gold ignoring case and spacing. Reasons: correct, wrong, hedged (several values or
letters, or a qualified value: "12 or 13", "A or B", "about 12"), empty, no_answer (no
answer span), unparsable (a span stating no number, expression or letter), timeout
(math-verify, or a plugin scorer, ran past its time limit); partial (a plugin scorer's
reward between 0 and 1). Rows of answer type `scorer` are scored by their dataset's
plugin only (tasks.plugins)."""

from __future__ import annotations

import re
from decimal import Decimal

from .mathverify import MathTimeout, parse_math, verify_math
from .spans import answer_spans, is_hedged, plain_span, stated_letters, value_parts

PLUGIN_TYPE = "scorer"  # the answer type of rows only their dataset's plugin scorer can score
ANSWER_TYPES = ("integer", "math", "choice", "text")  # the built-in scorers
REASONS = ("correct", "partial", "wrong", "hedged", "empty", "no_answer", "unparsable", "timeout")
PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
CHOICE_GOLD = re.compile(r"\(([A-Z])\)")
_INTEGER_ANSWER = re.compile(r"(?:[^\W\d_]\s*=\s*)?([-+]?\s*\d+(?:\.\d+)?)")  # "12", "12.0", "x = 12"


def extract_answer(completion: str, fmt: str) -> str | None:
    """A completion's final answer, its spans (answer_spans) read together; None without one."""
    spans = answer_spans(completion, fmt)
    return ", ".join(spans) if spans else None


def normalize_text(answer: str) -> str:
    """A short text answer as answer type "text" compares it: case, spacing, quotes, bold
    marks, \\text{} and a trailing full stop do not count ("New  York." = "new york")."""
    answer = re.sub(r"\\(?:text|textbf|mathrm)\{([^{}]*)\}", r"\1", answer)
    answer = " ".join(answer.casefold().split())
    return answer.strip("*\"'`").rstrip(".!;:,").strip("*\"'` ")


def is_plain_number(gold: str, kind: str, timeout: int = 5) -> bool:
    """Is a gold answer a plain integer or decimal ("12", "-3.5", "1{,}000", "\\$4.50")?"""
    if kind == "integer" or PLAIN_NUMBER.fullmatch(str(gold).strip()):
        return True
    if kind != "math":
        return False
    import sympy

    try:
        values = parse_math(str(gold), timeout)
    except MathTimeout:
        return False
    return bool(values) and isinstance(values[0], (sympy.Integer, sympy.Float))


def _outcome(ok: bool) -> tuple[bool, str]:
    return ok, "correct" if ok else "wrong"


def _stated_values(spans: list[str]) -> tuple[list[str], bool]:
    """(the distinct values the spans state, whether any span hedges)."""
    texts = [plain_span(span) for span in spans]
    values = list(dict.fromkeys(v for text in texts for v in value_parts(text)))
    return values, any(is_hedged(text) for text in texts)


def _score_integer(spans: list[str], gold: str) -> tuple[bool, str]:
    values, hedged = _stated_values(spans)
    if not values:
        return False, "unparsable"
    if hedged or len(values) > 1:
        return False, "hedged"
    number = _INTEGER_ANSWER.fullmatch(values[0])
    if not number:  # "12/5", "12^2", "12-13": not one number
        return False, "wrong" if re.search(r"\d", values[0]) else "unparsable"
    return _outcome(Decimal(re.sub(r"\s", "", number.group(1))) == Decimal(int(gold)))


def _same_text(answer: str, gold: str) -> bool:
    return " ".join(plain_span(answer).split()).rstrip(".") == " ".join(plain_span(gold).split()).rstrip(".")


def _sides_agree(values: list[str], timeout: int) -> bool:
    """Does each equation between numbers state one value ("16 - 4 = 12"; "12 = 13" states two)?"""
    for value in values:
        sides = [side for side in re.split(r"(?<![<>!:\\])=(?!=)", value) if side.strip()]
        numbers = [side for side in sides if not re.search(r"[^\W\d_]", re.sub(r"\\[a-zA-Z]+", "", side))]
        if len(numbers) > 1:
            first = parse_math(numbers[0], timeout)
            if not all(verify_math(first, parse_math(side, timeout), timeout) for side in numbers[1:]):
                return False
    return True


def _reads_every_number(reading: str, parsed: list, timeout: int) -> bool:
    """Does math-verify's value of a reading depend on every number in it? Where it cannot
    parse a part it reads the rest alone ("12 | 13", "12 \\to 13", "12 \\lor 13" are 13)."""

    def value(values: list) -> str:
        return str(next(v for v in values if not isinstance(v, str)))

    for number in re.finditer(r"\d+(?:\.\d+)?", reading):
        changed = parse_math(f"{reading[: number.end()]}7{reading[number.end() :]}", timeout)
        if changed and value(changed) == value(parsed):
            return False
    return True


def _score_math(spans: list[str], gold: str, timeout: int) -> tuple[bool, str]:
    gold_values = parse_math(gold, timeout)
    if not gold_values:
        raise ValueError(f"gold answer {gold!r} cannot be parsed by math-verify")
    if _same_text(", ".join(spans), gold):  # written as its gold: never wrong ("\\$18", "\\text{odd}")
        return True, "correct"
    values, hedged = _stated_values(spans)
    if hedged:
        return False, "hedged"
    reading = ", ".join(values)
    parsed = parse_math(reading, timeout) if values else []
    if not parsed:
        return False, "unparsable"
    if not _sides_agree(values, timeout) or not _reads_every_number(reading, parsed, timeout):
        return False, "hedged"
    if verify_math(gold_values, parsed, timeout):
        return True, "correct"
    return False, "hedged" if len(values) > 1 and "," not in gold else "wrong"


def _score_choice(spans: list[str], gold: str) -> tuple[bool, str]:
    stated = [stated_letters(plain_span(span)) for span in spans]
    letters = list(dict.fromkeys(letter for found, _ in stated for letter in found))
    if not letters:
        return False, "unparsable"
    if len(letters) > 1 or any(hedged for _, hedged in stated):
        return False, "hedged"
    return _outcome(f"({letters[0]})" == gold)


def _score_text(spans: list[str], gold: str) -> tuple[bool, str]:
    answers = list(dict.fromkeys(normalize_text(span) for span in spans))
    if len(answers) > 1:
        return False, "hedged"
    return _outcome(answers[0] == normalize_text(gold))


def score(completion: str, gold: str, answer_type: str, fmt: str, timeout: int = 5) -> tuple[bool, str]:
    """(correct, reason) of a completion against its gold; reasons: see the module docstring."""
    if answer_type == PLUGIN_TYPE:
        raise ValueError(f"answer type {PLUGIN_TYPE!r} is scored by its dataset's scorer plugin (datasets.*.scorer)")
    if not completion.strip():
        return False, "empty"
    spans = answer_spans(completion, fmt)
    if not spans:
        return False, "no_answer"
    if answer_type == "integer":
        return _score_integer(spans, gold)
    if answer_type == "choice":
        return _score_choice(spans, gold)
    if answer_type == "text":
        return _score_text(spans, gold)
    try:
        return _score_math(spans, gold, timeout)
    except MathTimeout:
        return False, "timeout"


def gold_problem(gold, kind: str) -> str | None:
    """Why a gold answer cannot be scored, or None if it can."""
    if kind == "integer":
        return None if re.fullmatch(r"-?\d+", str(gold)) else f"gold {gold!r} is not an integer"
    if kind == "math":
        try:
            return None if parse_math(str(gold)) else f"gold {gold!r} cannot be parsed by math-verify"
        except MathTimeout:
            return f"gold {gold!r}: math-verify ran past its time limit reading it"
    if kind == "choice":
        return None if CHOICE_GOLD.fullmatch(str(gold)) else f"gold {gold!r} is not an option letter like '(A)'"
    if kind == "text":
        return None if normalize_text(str(gold)) else f"gold {gold!r} is empty as text"
    if kind == PLUGIN_TYPE:  # whatever the plugin reads
        return None
    return f"answer_type {kind!r} not in {ANSWER_TYPES}"
