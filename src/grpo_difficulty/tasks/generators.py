"""Procedural problem generators with difficulty levels (= tiers)."""

from __future__ import annotations

import random

import pandas as pd

from .countdown import COUNTDOWN_LEVELS, countdown_problem
from .rows import BadRows, finish, record_json, with_options
from .scoring import PLUGIN_TYPE


def procedural_rows(kind: str, levels: list[int], per_level: dict[str, int], split: str, seed: int) -> pd.DataFrame:
    """One seeded stream of distinct problems per level, cut into disjoint splits.

    `per_level` maps split name → problems per level, in order (e.g. {test: 25, train: 25});
    each split takes the next unique questions of the stream, so splits never overlap. A
    generator may return the row's own fields too (kept as its `record`).
    """
    table, make_problem, answer_type = PROCEDURAL[kind]
    if split not in per_level:
        raise ValueError(f"{kind}: split {split!r} not in per_level {sorted(per_level)}")
    rows = []
    for level in levels:
        if level not in table:
            raise ValueError(f"{kind}: unknown level {level}; allowed {sorted(table)}")
        rng = random.Random(f"{seed}-{level}")
        seen: set[str] = set()
        parts: dict[str, list] = {name: [] for name in per_level}
        for name, count in per_level.items():
            attempts = 0
            while len(parts[name]) < count:
                question, answer, *record = make_problem(level, rng)
                attempts += 1
                if attempts > 100 * count + 1000:
                    raise ValueError(f"{kind}: level {level} has too few distinct problems for {per_level}")
                if question in seen:
                    continue
                seen.add(question)
                parts[name].append((question, answer, record))
        for question, answer, record in parts[split]:
            own = dict(record=record_json(record[0])) if record else {}
            rows.append(
                dict(
                    question=question,
                    gold=str(answer),
                    answer_type=answer_type,
                    solution="",
                    tier=level,
                    subject=kind,
                    source=kind,
                    **own,
                )
            )
    return finish(pd.DataFrame(rows), BadRows(kind))


# Level → (operator, digits of each operand). Chosen so the 135M embedded model's pass
# rates spread from mostly right (level 1) to mostly wrong (level 8).
ARITHMETIC_LEVELS = {
    1: ("+", (1, 1)),
    2: ("-", (1, 1)),
    3: ("*", (1, 1)),
    4: ("+", (2, 1)),
    5: ("+", (2, 2)),
    6: ("-", (2, 2)),
    7: ("+", (1, 1, 1)),
    8: ("*", (2, 1)),
    9: ("+", (3, 3)),
}


def _arithmetic_problem(level: int, rng: random.Random) -> tuple[str, int]:
    op, digits = ARITHMETIC_LEVELS[level]
    operands = [rng.randint(10 ** (d - 1) if d > 1 else 0, 10**d - 1) for d in digits]
    if op == "-":
        operands.sort(reverse=True)  # keep answers non-negative
    expression = f" {op} ".join(str(x) for x in operands)
    return f"What is {expression}?", int(eval(expression))  # noqa: S307 - our own digits


def arithmetic_rows(levels: list[int], per_level: dict[str, int], split: str, seed: int) -> pd.DataFrame:
    """Procedural arithmetic (exact integer answers), levels of ARITHMETIC_LEVELS."""
    return procedural_rows("arithmetic", levels, per_level, split, seed)


# Level → (objects, swaps). BBH's three tasks are (3, 3), (5, 5), (7, 7); the levels
# in between separate the two sources of difficulty.
SHUFFLED_LEVELS = {
    1: (3, 1),
    2: (3, 2),
    3: (3, 3),
    4: (4, 4),
    5: (5, 3),
    6: (5, 5),
    7: (6, 6),
    8: (7, 5),
    9: (7, 7),
}
PEOPLE = ["Alice", "Bob", "Claire", "Dave", "Eve", "Fred", "Gertrude"]
SHUFFLE_THEMES = [
    dict(
        intro="{people} are playing catch. At the start of the game, each of them holds a ball: {holdings}.",
        holds="{person} holds a {item} ball",
        swap="{a} and {b} swap balls",
        end="At the end of the game, {who} holds the",
        option="{item} ball",
        items=["red", "blue", "green", "yellow", "purple", "grey", "white", "black", "pink", "brown"],
    ),
    dict(
        intro="{people} are in a book club. At the start of the month, each of them is reading a different "
        "book: {holdings}.",
        holds="{person} is reading {item}",
        swap="{a} and {b} trade books",
        end="At the end of the month, {who} is reading",
        option="{item}",
        items=[
            "Dune",
            "Emma",
            "Beloved",
            "Ulysses",
            "Middlemarch",
            "Dracula",
            "Hamlet",
            "Persuasion",
            "The Hobbit",
            "Moby Dick",
        ],
    ),
    dict(
        intro="{people} are at a party and each of them brought a wrapped present: {holdings}.",
        holds="{person} has a {item}",
        swap="{a} and {b} exchange presents",
        end="When the party ends, {who} has the",
        option="{item}",
        items=["scarf", "teapot", "puzzle", "candle", "notebook", "kite", "clock", "lamp", "mug", "plant"],
    ),
]


def _and_join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])}{',' if len(words) > 2 else ''} and {words[-1]}"


def _shuffled_problem(level: int, rng: random.Random) -> tuple[str, str]:
    """One tracking-shuffled-objects problem (as in BIG-Bench Hard): who holds what after a
    sequence of pairwise swaps; options are the objects in their starting order."""
    n_objects, n_swaps = SHUFFLED_LEVELS[level]
    theme = rng.choice(SHUFFLE_THEMES)
    people = PEOPLE[:n_objects]
    items = rng.sample(theme["items"], n_objects)
    holding = dict(zip(people, items, strict=True))
    swaps: list[tuple[str, str]] = []
    while len(swaps) < n_swaps:
        a, b = rng.sample(people, 2)
        if swaps and {a, b} == set(swaps[-1]):
            continue  # the same pair twice in a row would undo its own swap
        swaps.append((a, b))
        holding[a], holding[b] = holding[b], holding[a]
    who = rng.choice(people)
    steps = [theme["swap"].format(a=a, b=b) for a, b in swaps]
    if len(steps) == 1:
        story = f"Then {steps[0]}."
    else:
        story = " ".join([f"First, {steps[0]}.", *(f"Then, {s}." for s in steps[1:-1]), f"Finally, {steps[-1]}."])
    intro = theme["intro"].format(
        people=_and_join(people),
        holdings=_and_join([theme["holds"].format(person=p, item=i) for p, i in zip(people, items, strict=True)]),
    )
    options = [theme["option"].format(item=i) for i in items]
    question = with_options(f"{intro}\n{story} {theme['end'].format(who=who)}", options)
    return question, f"({chr(65 + items.index(holding[who]))})"


def shuffled_objects_rows(levels: list[int], per_level: dict[str, int], split: str, seed: int) -> pd.DataFrame:
    """Procedural tracking-shuffled-objects (multiple choice), levels of SHUFFLED_LEVELS."""
    return procedural_rows("shuffled_objects", levels, per_level, split, seed)


def load_procedural(spec: dict, bad: BadRows) -> pd.DataFrame:
    return procedural_rows(spec["loader"], spec["levels"], spec["per_level"], spec["split"], spec.get("seed", 0))


PROCEDURAL = {
    "arithmetic": (ARITHMETIC_LEVELS, _arithmetic_problem, "integer"),
    "shuffled_objects": (SHUFFLED_LEVELS, _shuffled_problem, "choice"),
    "countdown": (COUNTDOWN_LEVELS, countdown_problem, PLUGIN_TYPE),
}
