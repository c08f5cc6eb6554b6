"""Answer formats (config `answer_format`): how a dataset's answer field holds the final
answer. Each reads the field's text into (solution, gold, answer_type) or raises BadRow
naming the value; the gold is then checked to be scorable (rows.validate_golds)."""

from __future__ import annotations

import re

from .rows import BadRow
from .scoring import CHOICE_GOLD, PLAIN_NUMBER, normalize_text
from .spans import MATH_WORDS, all_boxed, boxed_answer, unbox

_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
# "18 dollars", "5 cm": a number and unit words (as bare LaTeX the words would be a product of letters)
_NUMBER_AND_UNITS = re.compile(r"\\?[$€£]?(-?[\d,]*\d(?:\.\d+)?)\s+[^\W\d_]{2,}(?:\s+[^\W\d_]+)*\.?")
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
    if re.match(r"\\(?:boxed|fbox)\b", gold) and boxed_answer(gold) and not unbox(gold, keep=False).strip(" ,;"):
        gold = boxed_answer(gold)  # one box, or several read together
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
    prose = [w for w in re.findall(r"[^\W\d_]{3,}", outside_latex) if w.lower() not in MATH_WORDS]
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


def solution_box(solution: str) -> str:
    """The boxed final answer of a worked solution. Several different boxes are a bad row:
    whether they are an intermediate result and the answer, or one answer in parts, is not
    the loader's to guess (the scorer reads an answer's boxes together)."""
    boxes = list(dict.fromkeys(box.strip() for box in all_boxed(solution) if box.strip()))
    if not boxes:
        raise BadRow(f"solution has no \\boxed{{...}} final answer: {_shown(solution)}")
    if len(boxes) > 1:
        shown = ", ".join(_shown(box, 30) for box in boxes[:4])
        raise BadRow(
            f"solution has {len(boxes)} different \\boxed{{...}} answers ({shown}); a gold is one answer: box it "
            "once (a multi-part answer in one box, '(2,2), (6,2)') or map the answer itself (answer_format plain)"
        )
    return boxes[0]


def boxed_solution_answer(text: str) -> tuple[str, str, str]:
    """A worked solution whose \\boxed{...} is the answer (MATH-style)."""
    return text, solution_box(text), "math"


def choice_answer(text: str) -> tuple[str, str, str]:
    """An option letter: "B", "(B)", "b", "B)", "B. blue"; scored as the letter picked."""
    answer = re.sub(r"\\(?:text|textbf|mathrm)\{", "", text.strip())
    if re.fullmatch(r"\(?[a-z]\)?[.:]?", answer):
        answer = answer.upper()
    letter = CHOICE_GOLD.search(answer) or re.match(r"\W*([A-Z])(?:[).:\]]|\W*$)", answer)
    if letter is None:
        raise BadRow(f"answer {text!r} is not an option letter like A or (A) (answer_format choice)")
    return "", f"({letter.group(1)})", "choice"


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
