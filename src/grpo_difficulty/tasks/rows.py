"""The normalized row table every loader produces, and the policy for bad input rows."""

from __future__ import annotations

import hashlib
import json
import re
import string

import numpy as np
import pandas as pd

from .scoring import gold_problem

COLUMNS = ["id", "question", "gold", "answer_type", "solution", "tier", "subject", "source"]
# a pass rate shipped with the data (fields.pass_rate), in [0, 1]; the row's own record as
# JSON, kept for a plugin scorer (datasets.<name>.scorer; tasks.plugins.row_fields)
OPTIONAL_COLUMNS = ["pass_rate", "record"]


def with_options(question: str, texts: list[str]) -> str:
    """A multiple-choice question followed by its lettered options, as BBH writes them."""
    lines = [f"({letter}) {text}" for letter, text in zip(string.ascii_uppercase, texts, strict=False)]
    return question.rstrip() + "\nOptions:\n" + "\n".join(lines)


def _plain(value):
    """A record's value that JSON cannot write itself: numpy arrays and numbers, else text."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def record_json(record: dict) -> str:
    """A dataset row's own fields as JSON (the `record` column a plugin scorer reads)."""
    return json.dumps(record, default=_plain, ensure_ascii=False)


def question_id(question: str) -> str:
    return hashlib.sha256(question.strip().encode()).hexdigest()[:16]


class BadRow(ValueError):
    """What is wrong with one input row (the caller adds file and row)."""


class Lines(list):
    """Records of a line-based file (jsonl, csv): record i starts on line i + 1, None where
    no record starts (a header, blank or continued line)."""


def where(number: int, part: str | None = None, unit: str = "row") -> str:
    """How messages name a row as the user counts it: its 1-based row, or its line in a
    line-based file, and the part (file or hub config) when there are several."""
    return f"{unit} {number}" if part is None else f"{unit} {number} of {part}"


class BadRows:
    """Policy for bad input rows (config `datasets.<name>.bad_rows`): "error" stops with
    a message naming the dataset's config key, its source and the row; "skip" drops the
    row, counted and logged. `source` (file, hub id) also fills the table's source column."""

    def __init__(self, source: str, policy: str = "error", dataset: str | None = None):
        self.source, self.policy, self.skipped = source, policy, []
        self.name = source if dataset is None else f"datasets.{dataset} ({source})"

    def report(self, row: str, why) -> None:
        message = f"{self.name} {row}: {why}"
        if self.policy != "skip":
            raise ValueError(message)
        self.skipped.append(message)

    def summary(self) -> str:
        lines = [f"{self.name}: skipped {len(self.skipped)} bad row(s)", *self.skipped]
        return "\n".join(lines)


def make_frame(parts: list[tuple[str, list]], bad: BadRows, make_row, assign_tiers=None) -> pd.DataFrame:
    """Normalized rows from (part name, records) pairs, e.g. one per hub config or file.
    make_row(record, part) returns the row's fields or raises BadRow; rows are named by
    line (`Lines` records) or row, and by part too when there are several. `assign_tiers`:
    see finish()."""
    rows = []
    for part, records in parts:
        unit = "line" if isinstance(records, Lines) else "row"
        for i, rec in enumerate(records):
            label = where(i + 1, part if len(parts) > 1 else None, unit)
            if rec is None:  # undecodable or no record, already reported by read_records
                continue
            try:
                if not isinstance(rec, dict):
                    raise BadRow(f"expected an object with fields, found {type(rec).__name__}")
                row = make_row(rec, part)
            except BadRow as err:
                bad.report(label, err)
                continue
            rows.append(dict(row, row=label, source=bad.source))
    return finish(pd.DataFrame(rows), bad, assign_tiers)


def lookup(rec: dict, field: str):
    """A record's value of `field`: its own key, else a dotted path into nested objects and
    lists ("reward_model.ground_truth", "prompt.0.content"); None when absent."""
    if field in rec:
        return rec[field]
    value = rec
    for step in field.split("."):
        if isinstance(value, dict):
            value = value.get(step)
        elif (
            isinstance(value, (list, tuple, np.ndarray))
            and re.fullmatch(r"-?\d+", step)
            and -len(value) <= int(step) < len(value)
        ):
            value = value[int(step)]
        else:
            return None
    return value


_CONTAINERS = (list, tuple, np.ndarray, dict)


def is_missing(value) -> bool:
    """None, NaN, pd.NA, blank text, or an empty list or object."""
    if isinstance(value, _CONTAINERS):
        return len(value) == 0
    return bool(pd.isna(value)) or (isinstance(value, str) and not value.strip())


def as_text(value, field: str) -> str:
    """A field's value as text: numbers without a spurious ".0", the one element of a
    one-element list, the last user message of a chat (a list of {role, content})."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        if len(value) and all(isinstance(m, dict) and "content" in m for m in value):
            users = [m for m in value if m.get("role", "user") == "user"]
            return as_text((users or list(value))[-1]["content"], field)
        if len(value) != 1:
            raise BadRow(
                f"field {field!r} holds a list of {len(value)} values, not one (name one element with "
                f"a dotted path such as {field}.0)"
            )
        return as_text(value[0], field)
    if isinstance(value, dict):
        keys = ", ".join(repr(k) for k in list(value)[:10])
        raise BadRow(
            f"field {field!r} holds an object with keys {keys}, not a value (name one with a dotted "
            f"path such as {field}.{next(iter(value), 'key')})"
        )
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def value_of(rec: dict, field: str, role: str | None = None):
    """The value of a field every row must have; a missing or empty one is a bad row that
    names the row's fields (and the `fields` key that mapped it, if any)."""
    value = lookup(rec, field)
    if is_missing(value):
        present = [k for k, v in rec.items() if not is_missing(v)]
        names = ", ".join(repr(k) for k in present[:20]) + (", ..." if len(present) > 20 else "")
        mapped = f"fields.{role}; " if role else ""
        raise BadRow(f"missing or empty field {field!r} ({mapped}this row has fields {names or 'none'})")
    return value


def required(rec: dict, field: str, role: str | None = None) -> str:
    """The text of a field every row must have (see value_of)."""
    text = as_text(value_of(rec, field, role), field)
    if not text.strip():
        raise BadRow(f"missing or empty field {field!r}")
    return text


def finish(df: pd.DataFrame, bad: BadRows, assign_tiers=None) -> pd.DataFrame:
    """Checks every loader shares. Ids: the dataset's own (column `id`) or a stable hash of
    the question; a repeated id or question is a bad row (the first occurrence is kept
    when skipping); gold answers must be scorable. Then `assign_tiers(df)` may turn raw
    difficulty values into tiers, from the rows that survived."""
    if df.empty:
        raise ValueError(f"{bad.name}: no rows")
    if "row" not in df:
        df["row"] = [where(i + 1) for i in range(len(df))]
    if "id" in df:
        df = _drop_repeats(df, df["id"], bad, lambda dup, first: f"duplicate id {dup['id']!r} (same as {first})")
    else:
        df["id"] = df["question"].map(question_id)
    df = _drop_repeats(
        df,
        df["question"].map(question_id),
        bad,
        lambda dup, first: f"duplicate question (same as {first}): {dup['question'][:80]!r}",
    )
    df = validate_golds(df, bad)
    if df.empty:
        raise ValueError(f"{bad.name}: no usable rows")
    if assign_tiers is not None:
        df = assign_tiers(df)
    columns = COLUMNS + [c for c in OPTIONAL_COLUMNS if c in df]
    return df.astype({"tier": int})[columns].reset_index(drop=True)


def _drop_repeats(df: pd.DataFrame, keys: pd.Series, bad: BadRows, why) -> pd.DataFrame:
    repeated = keys.duplicated(keep="first")
    firsts = df.loc[~repeated].set_index(keys[~repeated])["row"]
    for index in df.index[repeated]:
        bad.report(df.at[index, "row"], why(df.loc[index], firsts[keys[index]]))
    return df[~repeated]


def validate_golds(df: pd.DataFrame, bad: BadRows) -> pd.DataFrame:
    """Every gold answer must be scorable, or every completion would silently score wrong.
    Returns the rows that passed (all of them unless `bad` skips)."""
    rows = df["row"] if "row" in df else [where(i + 1) for i in range(len(df))]
    keep = []
    for row, gold, kind in zip(rows, df["gold"], df["answer_type"], strict=True):
        problem = gold_problem(gold, kind)
        if problem:
            bad.report(row, problem)
        keep.append(problem is None)
    return df[keep]
