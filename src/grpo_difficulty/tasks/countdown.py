"""Countdown: reach a target from given numbers, each used once, with + - * / and
parentheses. Level n = n numbers (2 to 6). Every problem is solvable: its target is
built from a random expression over all its numbers whose every step is a positive
integer (that expression is the row's gold, a reference solution). Its rows keep their
numbers and target (column `record`) and are scored by a plugin, e.g.
examples/countdown_scorer.py (datasets.<name>.scorer)."""

from __future__ import annotations

import random

COUNTDOWN_LEVELS = {2: 2, 3: 3, 4: 4, 5: 5, 6: 6}  # level → how many numbers
LARGEST_NUMBER = 25
LARGEST_TARGET = 999


def _step(a: tuple[int, str], b: tuple[int, str], rng: random.Random) -> tuple[int, str] | None:
    """One operation on two (value, expression) items whose result is a positive integer."""
    (x, ex), (y, ey) = (a, b) if a[0] >= b[0] else (b, a)
    ops = ["+", "*"] + (["-"] if x > y else []) + (["/"] if y > 1 and x % y == 0 else [])
    op = rng.choice(ops)
    value = {"+": x + y, "-": x - y, "*": x * y, "/": x // max(y, 1)}[op]
    return value, f"({ex} {op} {ey})"


def countdown_problem(level: int, rng: random.Random) -> tuple[str, str, dict]:
    """(question, a reference solution, the row's own fields: numbers and target)."""
    count = COUNTDOWN_LEVELS[level]
    while True:
        numbers = [rng.randint(1, LARGEST_NUMBER) for _ in range(count)]
        pool = [(n, str(n)) for n in numbers]
        while len(pool) > 1:
            a, b = rng.sample(range(len(pool)), 2)
            combined = _step(pool[a], pool[b], rng)
            pool = [item for i, item in enumerate(pool) if i not in (a, b)] + [combined]
        target, expression = pool[0]
        if 1 <= target <= LARGEST_TARGET and target not in numbers:
            break
    listed = ", ".join(map(str, numbers))
    question = f"Using the numbers {listed}, each exactly once, with + - * / and parentheses, make {target}."
    return question, expression[1:-1], dict(numbers=numbers, target=target)
