"""Answer formats (config `answer_format`): how a dataset's answer field holds the final
answer. Each reads the field's text into (solution, gold, answer_type) or raises BadRow
naming the value; the gold is then checked to be scorable (rows.validate_golds)."""

from __future__ import annotations

import re

from .rows import BadRow
from .scoring import PLAIN_NUMBER, choice_letter, last_boxed, normalize_text

_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# "18 dollars", "5 cm": a number and unit words (as bare LaTeX the words would be a product of letters)
_NUMBER_AND_UNITS = re.compile(r"\\?[$€£]?(-?[\d,]*\d(?:\.\d+)?)\s+[^\W\d_]{2,}(?:\s+[^\W\d_]+)*\.?")
# Words math-verify reads as functions or constants; any other word of 3+ letters outside
# LaTeX commands is prose around the answer ("The answer is 42"), read as a product of letters.
_MATH_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "sqrt", "inf", "infty", "mod", "max", "min"}
_MATH_WORDS |= {"gcd", "lcm", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "det"}
_WORDS = re.compile(r"[^\W\d_]{2,}(?:[\s'-]+[^\W\d_]+)*")  # "fourteen", "New York": math-verify reads letter products
_MATH_DELIMITERS = [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")]


def _shown(text: str, width: int = 60) -> str:
    """A value as error messages quote it: the end of a long text (where answers sit)."""
    return repr(text if len(text) <= width else "..." + text[-width:])


def gsm8k_gold(answer: str) -> tuple[str, str]:
    """Split a GSM8K answer ("...worked steps...\\n#### 72") into (solution, gold)."""
    if "####" not in answer:
        raise BadRow(f"answer has no '#### <final answer>' line: {_shown(answer)}")
    solution, final = answer.rsplit("####", 1)
    gold = final.strip().replace(",", "")
    if not gold:
        raise BadRow("empty final answer after '####'")
    if not PLAIN_NUMBER.fullmatch(gold):
        raise BadRow(f"final answer {gold!r} after '####' is not a number")
    return solution.strip(), gold


def plain_answer(text: str) -> tuple[str, str, str]:
    """The final answer itself: a number ("14", "-2.5", "1,234", "18 dollars" reads as 18) or
    LaTeX ("\\frac{1}{2}", also inside $...$, \\(...\\) or a whole \\boxed{...}), scored by math-verify."""
    gold = text.strip()
    for left, right in _MATH_DELIMITERS:
        inner = gold[len(left) : -len(right)] if len(gold) > len(left) + len(right) else ""
        if gold.startswith(left) and gold.endswith(right) and "$" not in inner:
            gold = inner.strip()
            break
    if re.fullmatch(r"\\(?:boxed|fbox)\s*\{.*\}", gold, re.S) and last_boxed(gold) is not None:
        gold = last_boxed(gold).strip()
    if _NUMBER_AND_UNITS.fullmatch(gold):
        gold = _NUMBER_AND_UNITS.fullmatch(gold).group(1)
    if _THOUSANDS.fullmatch(gold):
        gold = gold.replace(",", "")
    if not gold:
        raise BadRow(f"answer {text!r} is empty once its math delimiters are removed")
    if _WORDS.fullmatch(gold):
        raise BadRow(
            f"answer {text!r} is words, not a number or math expression (answer_format plain is scored by "
            "math-verify; option letters: answer_format choice; words such as Yes or Paris: answer_format text)"
        )
    outside_latex = re.sub(r"\\[a-zA-Z]+(?:\s*\{[^{}]*\})?", " ", gold)  # \frac, \text{ cm}, \mathrm{kg}
    prose = [w for w in re.findall(r"[^\W\d_]{3,}", outside_latex) if w.lower() not in _MATH_WORDS]
    if prose:
        raise BadRow(
            f"answer {text!r} has words around its math ({', '.join(prose[:3])}): math-verify would read them "
            "as a product of letters; map the final answer itself, or use answer_format gsm8k, "
            "boxed_solution or text"
        )
    return "", gold, "math"


def gsm8k_answer(text: str) -> tuple[str, str, str]:
    """A GSM8K-style worked answer ending in "#### <number>"."""
    solution, gold = gsm8k_gold(text)
    return solution, gold, "math"


def boxed_solution_answer(text: str) -> tuple[str, str, str]:
    """A worked solution whose last \\boxed{...} is the answer (MATH-style)."""
    gold = last_boxed(text)
    if gold is None or not gold.strip():
        raise BadRow(f"solution has no \\boxed{{...}} final answer: {_shown(text)}")
    return text, gold.strip(), "math"


def choice_answer(text: str) -> tuple[str, str, str]:
    """An option letter: "B", "(B)", "b", "B)", "B. blue"; scored as the letter picked."""
    answer = text.strip()
    if re.fullmatch(r"\(?[a-z]\)?[.:]?", answer):
        answer = answer.upper()
    letter = choice_letter(answer)
    if letter is None:
        raise BadRow(f"answer {text!r} is not an option letter like A or (A) (answer_format choice)")
    return "", f"({letter})", "choice"


def text_answer(text: str) -> tuple[str, str, str]:
    """A short text answer ("Yes", "True", "New York", "valid"): exact match, ignoring case,
    spacing, quotes and a trailing full stop."""
    if not normalize_text(text):
        raise BadRow(f"answer {text!r} is empty as text (answer_format text)")
    return "", text.strip(), "text"


ANSWER_FORMATS = {
    "plain": plain_answer,
    "gsm8k": gsm8k_answer,
    "boxed_solution": boxed_solution_answer,
    "choice": choice_answer,
    "text": text_answer,
}
