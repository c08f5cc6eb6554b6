"""math-verify, read one way: an answer or a gold is parsed as bare LaTeX (inside
\\boxed{}, after spans.normalize_numbers), and a run past the time limit is a
MathTimeout, not a silent "unparsable" or "wrong"."""

from __future__ import annotations

from itertools import product

from .spans import normalize_numbers


class MathTimeout(Exception):
    """math-verify ran past its time limit parsing or comparing an answer."""


def _reraise_thread_error(err: Exception) -> None:
    # math-verify's timeout is signal.alarm: outside the main thread it cannot run at all
    if isinstance(err, ValueError) and "thread" in str(err):
        raise err


def parse_math(text: str, timeout: int = 5) -> list:
    """math-verify's values of bare LaTeX or plain math ("\\frac{1}{2}", "2\\sqrt{3}",
    "(1, 2)", "1/2"), read inside \\boxed{}: without delimiters math-verify would read only
    the leading number. [] when nothing parses (only string fallbacks)."""
    from math_verify import parse
    from math_verify.errors import TimeoutException

    try:
        values = parse(f"\\boxed{{{normalize_numbers(text)}}}", parsing_timeout=timeout, raise_on_error=True)
    except TimeoutException as err:
        raise MathTimeout(f"math-verify parsing {text[:60]!r} ran past {timeout} s") from err
    except Exception as err:
        _reraise_thread_error(err)
        return []
    return values if any(not isinstance(v, str) for v in values) else []


def verify_math(gold_values: list, values: list, timeout: int = 5) -> bool:
    """Does any reading of the gold equal the answer's value (math-verify `verify`, pair by
    pair)? A pair that errors does not match; MathTimeout when none matched and one ran
    past the time limit."""
    from math_verify import verify
    from math_verify.errors import TimeoutException

    timed_out = False
    for gold, value in product(gold_values, values):
        try:
            if verify(gold, value, timeout_seconds=timeout, raise_on_error=True):
                return True
        except TimeoutException:
            timed_out = True
        except Exception as err:
            _reraise_thread_error(err)
    if timed_out:
        raise MathTimeout(f"math-verify comparing an answer with the gold ran past {timeout} s")
    return False
