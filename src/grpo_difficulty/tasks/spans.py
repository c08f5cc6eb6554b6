"""What a completion states as its final answer.

The answer spans by prompt format (every box, every <answer>...</answer>, or the first
line), and what they state: the values of a number or math answer, the letters of a
choice answer. One answer has one reading: values separated by words ("12 or 13"),
written side by side ("1 12") or in several boxes are read together, as one list, and
qualifying words ("not", "about", "at least", "?") make the answer hedged."""

from __future__ import annotations

import re

_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*(\{|\s)")
_XML_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
# Words math-verify reads as functions or constants, not prose.
MATH_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "sqrt", "inf", "infty", "mod", "max", "min"}
MATH_WORDS |= {"gcd", "lcm", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "det", "pi", "ln"}
# Two-letter English words; other two-letter runs are products of variables ("xy").
_SHORT_WORDS = {"or", "is", "it", "so", "an", "as", "at", "by", "in", "of", "on", "to", "be", "we", "he", "if"}
_SHORT_WORDS |= {"no", "up", "do", "my", "me", "am", "us", "its", "i'm", "it's"}
_WORD = re.compile(r"(?<![\\\w'])[^\W\d_]+(?:'[^\W\d_]+)?(?![\w'])")
_HEDGE_WORDS = re.compile(
    r"\b(?:not|no|never|nor|neither|except|cannot|\w+n't|maybe|perhaps|possibly|probably|likely|unlikely|guess"
    r"|unsure|either|approximately|approx|about|around|roughly|nearly|almost|circa|over|under|above|below"
    r"|between|least|most|than|minimum|maximum|ish|or so|or more|or less|or fewer|up to|give or take|plus or minus)\b"
)
# A number in words beside one in digits is a second value ("12 or thirteen", "12 thousand")
_NUMBER_WORDS = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|fifty|sixty"
    r"|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?)\b"
)
_HEDGE_SIGNS = re.compile(r"\?|≈|≃|≠|\\approx|\\sim(?![a-z])|\\neq?(?![a-z])|(?:^|\s)~\s*\d")
_TEXT_COMMANDS = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_DELIMITERS = re.compile(r"\\\$|\$|\\[()\[\]]|\*\*|__|[€£¥]")
_TRUE_MINUS = re.compile("[\u2212\ufe63\uff0d]")  # minus sign, small and full-width hyphen-minus
_DASH = re.compile("[\u2012\u2013\u2014\u2015]")  # figure, en, em dash, horizontal bar
_LATEX_THOUSANDS = re.compile(r"(?<=\d)(?:\{,\}|,\\!|\\,|\\!|\{,\}\\!)(?=\d{3}(?!\d))")
_DIGIT_COMMAS = re.compile(r"(?<![\d.])\d+(?:,\d+)+(?:\.\d+)?(?![\d,])")
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_OPENERS, _CLOSERS = re.compile(r"\\\{|[(\[]"), re.compile(r"\\\}|[)\]]")


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of every complete, outermost \\boxed{...} or \\fbox{...}:
    nested braces matched, escaped braces (\\{ \\}) skipped; also the brace-less "\\boxed 5"."""
    found, end = [], 0
    for match in _BOX_START.finditer(text):
        if match.start() < end:  # inside the previous box
            continue
        start = match.end()
        if match.group(1) != "{":
            token = re.compile(r"\s*([^\s$]+)").match(text, start)
            if token:
                end = token.end()
                found.append((match.start(), end, token.group(1).rstrip(".,")))
            continue
        depth, i = 1, start
        while i < len(text) and depth:
            if text[i] == "\\":
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            end = i
            found.append((match.start(), end, text[start : i - 1]))
    return found


def all_boxed(text: str) -> list[str]:
    """The contents of every complete box in text, in order (a truncated box is none)."""
    return [content for _, _, content in _boxes(text)]


def boxed_answer(text: str) -> str | None:
    """Every box of a text read together: the distinct non-empty contents joined by ", "
    (one multi-part answer, "(2,2), (6,2)"); None without one."""
    contents = list(dict.fromkeys(c.strip() for c in all_boxed(text) if c.strip()))
    return ", ".join(contents) if contents else None


def unbox(text: str, keep: bool = True) -> str:
    """Text with every box replaced by its content (keep) or by nothing."""
    pieces, pos = [], 0
    for start, end, content in _boxes(text):
        pieces += [text[pos:start], f" {content} " if keep else " "]
        pos = end
    return "".join(pieces) + text[pos:]


def answer_spans(completion: str, fmt: str) -> list[str]:
    """The distinct non-empty spans of a completion that state its final answer, by prompt
    format: every box, every <answer>...</answer>, or the first line (fewshot)."""
    if fmt == "boxed":
        spans = all_boxed(completion)
    elif fmt == "xml":
        spans = _XML_ANSWER.findall(completion)
    else:
        spans = completion.strip().split("\n", 1)[:1]
    return list(dict.fromkeys(s.strip() for s in spans if s.strip()))


def normalize_numbers(text: str) -> str:
    """Numbers written one way, for the answer and the gold alike: a minus sign or a dash
    before a number is a minus (a dash after a word is punctuation); LaTeX thousands
    (10{,}000, 10,\\!000, 1\\,000) and, outside brackets, a valid grouping (1,234) lose
    their separators; another comma between digits (1,2) separates two numbers."""
    text = _TRUE_MINUS.sub("-", text)
    text = re.sub(rf"(?<=[^\W\d_])\s*{_DASH.pattern}", " ", text)
    text = _DASH.sub("-", text)
    text = _LATEX_THOUSANDS.sub("", text)

    def digits(match: re.Match) -> str:
        before = text[: match.start()]
        inside = len(_OPENERS.findall(before)) > len(_CLOSERS.findall(before))
        if inside:
            return match.group()
        if _GROUPED.fullmatch(match.group()):
            return match.group().replace(",", "")
        return match.group().replace(",", ", ")

    return _DIGIT_COMMAS.sub(digits, text)


def plain_span(text: str) -> str:
    """A span without boxes, \\text{} wrappers, math and bold delimiters, currency signs, or
    percent signs after a number (a unit, like "dollars": "1200%" is not 12)."""
    text = _TEXT_COMMANDS.sub(r" \1 ", unbox(text))
    return normalize_numbers(re.sub(r"(?<=\d)\s*\\?%", " ", _DELIMITERS.sub(" ", text)))


def _prose(text: str) -> list[re.Match]:
    """The prose words of a span: 3+ letters (not math-verify's function names), short
    English words, two-letter units after a number ("5 cm"), "a"/"I" before prose."""
    words = list(_WORD.finditer(text))
    prose = []
    for word in words:
        lower = word.group().lower()
        unit = len(lower) == 2 and re.search(r"\d\s+$", text[: word.start()]) is not None
        prose.append(lower not in MATH_WORDS and (len(lower) >= 3 or lower in _SHORT_WORDS or unit))
    for i, word in enumerate(words[:-1]):
        between = text[word.end() : words[i + 1].start()]
        if word.group() in ("a", "A", "I") and prose[i + 1] and not between.strip():
            prose[i] = True
    return [w for w, is_prose in zip(words, prose, strict=True) if is_prose]


def is_hedged(text: str) -> bool:
    """Does a plain span qualify what it states ("not 12", "about 12", "12?", "≈ 12"), or
    state a number in words beside one in digits?"""
    words = " ".join(w.group().lower() for w in _prose(text))
    in_words = _NUMBER_WORDS.search(words) and re.search(r"\d", text)
    return bool(_HEDGE_WORDS.search(words) or _HEDGE_SIGNS.search(text) or in_words)


def value_parts(text: str) -> list[str]:
    """The values a plain span states: the math between its prose words (lead-in words and
    unit words dropped), numbers written side by side split apart; distinct, in order."""
    parts, pos = [], 0
    for word in [*_prose(text), None]:
        segment = text[pos : word.start() if word else len(text)]
        pos = word.end() if word else pos
        for part in re.split(r";|(?<=\d)\s+(?=[-+]?\d)", segment):
            part = re.sub(r"^(?:[\s,:;=)'\"`]|\.(?!\d))+|[\s.,:;=('\"`]+$", "", part)
            if re.search(r"[^\W_]", part):
                parts.append(part)
    return list(dict.fromkeys(parts))


def _joined(text: str, a: re.Match, b: re.Match) -> bool:
    return re.fullmatch(r"\s*(?:,|/|&|\||or|and|nor|vs\.?|then)?\s*", text[a.end() : b.start()], re.I) is not None


def stated_letters(text: str) -> tuple[list[str], bool]:
    """(the option letters a plain span states, whether it hedges): "(B)", "B)", "B.",
    a letter ending the span, and letters joined by "or", "and", ",", "/" ("A or B")."""
    tokens = list(re.finditer(r"(?<![\w'-])(\()?([A-Z])(\))?(?![\w'-])", text))
    stated = [
        token
        for i, token in enumerate(tokens)
        if token.group(3)
        or re.match(r"\s*(?:[.:\]]|$)", text[token.end() :])
        or (i > 0 and _joined(text, tokens[i - 1], token))
        or (i + 1 < len(tokens) and _joined(text, token, tokens[i + 1]))
    ]
    letters = list(dict.fromkeys(t.group(2) for t in stated))
    hedged = bool(_HEDGE_SIGNS.search(text)) or (bool(stated) and is_hedged(text[: stated[0].start()]))
    return letters, hedged
