"""Countdown's verifier, written as a grpo-difficulty scorer plugin (docs/scorers.md).

    datasets:
      countdown_train:
        loader: countdown
        scorer: examples/countdown_scorer.py:score

A completion is correct when its final expression uses each of the row's numbers exactly
once, only + - * / and parentheses, and equals the row's target. Division is exact
(fractions: 6 / (1 - 3 / 4) makes 24); a division by zero, another operator, a unary
minus, a decimal, a number not given or given once but used twice is wrong. The
expression is read with `ast` and computed by this file's own arithmetic: nothing the
model writes is ever run by eval().
"""

import ast
import re
from collections import Counter
from fractions import Fraction

LONGEST = 200  # characters: a longer "expression" is no answer
OPERATORS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,  # Fraction / Fraction: exact; ZeroDivisionError at 0
}
SPELLINGS = {"×": "*", "\\times": "*", "\\cdot": "*", "÷": "/", "\\div": "/", "−": "-"}


def final_expression(completion: str) -> str:
    """The completion's final answer: its last <answer>...</answer>, else its last
    non-empty line; an "Answer:" label and a trailing "= <target>" are dropped."""
    tagged = re.findall(r"<answer>(.*?)</answer>", completion, flags=re.S)
    lines = [line for line in completion.splitlines() if line.strip()]
    text = tagged[-1] if tagged else (lines[-1] if lines else "")
    text = re.sub(r"^\s*(?:answer|a)\s*:", "", text.strip(), flags=re.I)
    for spelling, operator in SPELLINGS.items():
        text = text.replace(spelling, operator)
    return text.split("=")[0].strip().rstrip(".")


def numbers_used(tree: ast.AST) -> list[int]:
    """The integer literals of an expression (ValueError on any other literal)."""
    used = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            if type(node.value) is not int:
                raise ValueError(f"{node.value!r} is not a whole number")
            used.append(node.value)
    return used


def value_of(node: ast.AST) -> Fraction:
    """The exact value of + - * / over integers; ValueError on anything else."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        return OPERATORS[type(node.op)](value_of(node.left), value_of(node.right))
    raise ValueError(f"{ast.dump(node)[:60]} is not + - * / of numbers")


def score(completion: str, gold: str, row: dict) -> bool:
    """Does the completion's final expression reach row["target"] from row["numbers"],
    each used once? (`gold` is a reference solution; the row decides.)"""
    expression = final_expression(completion)
    if not expression or len(expression) > LONGEST:
        return False
    try:
        tree = ast.parse(expression, mode="eval").body
        if Counter(numbers_used(tree)) != Counter(int(n) for n in row["numbers"]):
            return False
        return value_of(tree) == int(row["target"])
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return False
