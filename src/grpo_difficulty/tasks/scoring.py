"""Scoring: the final answer of a completion, by prompt format, checked against the gold
answer by answer type."""

from __future__ import annotations

import re

ANSWER_TYPES = ("integer", "math", "choice", "text")
_INTEGER = re.compile(r"-?\d[\d,]*")
PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
CHOICE_GOLD = re.compile(r"\(([A-Z])\)")
_XML_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*(\{|\s)")


def last_boxed(text: str) -> str | None:
    """Content of the last complete \\boxed{...} (or \\fbox{...}) in text, nested braces
    matched and escaped braces (\\{ \\}) skipped; also the brace-less form "\\boxed 5"."""
    for match in reversed(list(_BOX_START.finditer(text))):
        start = match.end()
        if match.group(1) != "{":
            token = re.match(r"[^\s$]+", text[start:].lstrip())
            if token:
                return token.group().rstrip(".,")
            continue
        depth, i = 1, start
        while i < len(text):
            char = text[i]
            if char == "\\":
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth == 0:
                return text[start:i]
            i += 1
    return None


def extract_answer(completion: str, fmt: str) -> str | None:
    """The span of a completion that holds its final answer, by prompt format."""
    if fmt == "boxed":
        return last_boxed(completion)
    if fmt == "xml":
        found = _XML_ANSWER.findall(completion)
        return found[-1].strip() if found else None
    line = completion.strip().split("\n", 1)[0] if completion.strip() else ""
    return line or None


def choice_letter(answer: str) -> str | None:
    """The option letter an answer span picks: "(B)", "B", "B) ...", "\\text{(B)}"; None if
    it names no single letter."""
    answer = re.sub(r"\\(?:text|textbf|mathrm)\{", "", answer)
    match = CHOICE_GOLD.search(answer) or re.match(r"\W*([A-Z])(?:[).:\]]|\W*$)", answer)
    return match.group(1) if match else None


def normalize_text(answer: str) -> str:
    """A short text answer as answer type "text" compares it: case, spacing, quotes, bold
    marks, \\text{} and a trailing full stop do not count ("New  York." = "new york")."""
    answer = re.sub(r"\\(?:text|textbf|mathrm)\{([^{}]*)\}", r"\1", answer)
    answer = " ".join(answer.casefold().split())
    return answer.strip("*\"'`").rstrip(".!;:,").strip("*\"'` ")


def parse_math(text: str, timeout: int = 5, bare_latex: bool = False) -> list:
    """math-verify's values of an answer. Bare LaTeX (a MATH gold, the inside of \\boxed{},
    or an <answer> span like "2\\sqrt{3}" without $...$) is read inside \\boxed{}: without
    delimiters math-verify would read only the leading number. Only string fallbacks
    (nothing parsed) gives []."""
    from math_verify import parse

    if bare_latex or ("\\" in text and not re.search(r"\$|\\\(|\\\[", text)):
        text = f"\\boxed{{{text}}}"
    values = parse(text, parsing_timeout=timeout)
    return values if any(not isinstance(v, str) for v in values) else []


def is_plain_number(gold: str, kind: str, timeout: int = 5) -> bool:
    """Is a gold answer a plain integer or decimal ("12", "-3.5", "1{,}000", "\\$4.50")?"""
    if kind == "integer" or PLAIN_NUMBER.fullmatch(str(gold).strip()):
        return True
    if kind != "math":
        return False
    import sympy

    values = parse_math(str(gold), timeout, bare_latex=True)
    return bool(values) and isinstance(values[0], (sympy.Integer, sympy.Float))


def score(completion: str, gold: str, answer_type: str, fmt: str, timeout: int = 5) -> tuple[bool, str]:
    """(correct, reason). Reasons: correct, wrong, empty, no_answer, unparsable."""
    if not completion.strip():
        return False, "empty"
    answer = extract_answer(completion, fmt)
    if answer is None:
        return False, "no_answer"
    if answer_type == "integer":
        match = _INTEGER.search(answer)
        if not match:
            return False, "unparsable"
        ok = int(match.group().replace(",", "")) == int(gold)
        return ok, "correct" if ok else "wrong"
    if answer_type == "choice":
        letter = choice_letter(answer)
        if letter is None:
            return False, "unparsable"
        ok = f"({letter})" == gold
        return ok, "correct" if ok else "wrong"
    if answer_type == "text":
        ok = normalize_text(answer) == normalize_text(gold)
        return ok, "correct" if ok else "wrong"
    from math_verify import verify

    gold_parsed = parse_math(gold, timeout, bare_latex=True)
    if not gold_parsed:
        raise ValueError(f"gold answer {gold!r} cannot be parsed by math-verify")
    # The span read as text (math-verify finds 18 in "The answer is 18.") and, failing
    # that, as bare LaTeX, the way the gold is read: an answer that repeats the gold
    # ("18 dollars", "\$18", "(1, 2)", "10^{3}") is then never scored wrong.
    parsed = False
    for bare_latex in (fmt == "boxed", fmt != "boxed"):
        predicted = parse_math(answer, timeout, bare_latex=bare_latex)
        parsed = parsed or bool(predicted)
        if predicted and verify(gold_parsed, predicted, timeout_seconds=timeout):
            return True, "correct"
    return False, "wrong" if parsed else "unparsable"


def gold_problem(gold, kind: str) -> str | None:
    """Why a gold answer cannot be scored, or None if it can."""
    if kind == "integer":
        return None if re.fullmatch(r"-?\d+", str(gold)) else f"gold {gold!r} is not an integer"
    if kind == "math":
        return None if parse_math(str(gold), bare_latex=True) else f"gold {gold!r} cannot be parsed by math-verify"
    if kind == "choice":
        return None if CHOICE_GOLD.fullmatch(str(gold)) else f"gold {gold!r} is not an option letter like '(A)'"
    if kind == "text":
        return None if normalize_text(str(gold)) else f"gold {gold!r} is empty as text"
    return f"answer_type {kind!r} not in {ANSWER_TYPES}"
