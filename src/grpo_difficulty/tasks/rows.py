"""The normalized row table every loader produces, and the policy for bad input rows."""

from __future__ import annotations

import hashlib

import pandas as pd

from .scoring import gold_problem

COLUMNS = ["id", "question", "gold", "answer_type", "solution", "tier", "subject", "source"]


def question_id(question: str) -> str:
    return hashlib.sha256(question.strip().encode()).hexdigest()[:16]


class BadRow(ValueError):
    """What is wrong with one input row (the caller adds file and row)."""


class BadRows:
    """Policy for bad input rows (config `datasets.<name>.bad_rows`): "error" stops with
    a message naming the source and row; "skip" drops the row, counted and logged."""

    def __init__(self, source: str, policy: str = "error"):
        self.source, self.policy, self.skipped = source, policy, []

    def report(self, row, why) -> None:
        message = f"{self.source} row {row}: {why}"
        if self.policy != "skip":
            raise ValueError(message)
        self.skipped.append(message)

    def summary(self) -> str:
        lines = [f"{self.source}: skipped {len(self.skipped)} bad row(s)", *self.skipped]
        return "\n".join(lines)


def make_frame(parts: list[tuple[str, list]], bad: BadRows, make_row) -> pd.DataFrame:
    """Normalized rows from (part name, records) pairs, e.g. one per hub config or file.
    make_row(record, part) returns the row's fields or raises BadRow; rows are named by
    index, and by part too when there are several."""
    rows = []
    for part, records in parts:
        for i, rec in enumerate(records):
            label = i if len(parts) == 1 else f"{i} of {part}"
            if rec is None:  # undecodable, already reported by read_records
                continue
            try:
                if not isinstance(rec, dict):
                    raise BadRow(f"expected an object with fields, found {type(rec).__name__}")
                row = make_row(rec, part)
            except BadRow as err:
                bad.report(label, err)
                continue
            rows.append(dict(row, row=label, source=bad.source))
    return finish(pd.DataFrame(rows), bad)


def required(rec: dict, field: str) -> str:
    value = rec.get(field)
    if value is None or (isinstance(value, float) and pd.isna(value)) or not str(value).strip():
        raise BadRow(f"missing or empty field {field!r}")
    return str(value)


def finish(df: pd.DataFrame, bad: BadRows) -> pd.DataFrame:
    """Add ids; a repeated question is a bad row (the first occurrence is kept when skipping)."""
    if df.empty:
        raise ValueError(f"{bad.source}: no rows")
    if "row" not in df:
        df["row"] = range(len(df))
    df["id"] = df["question"].map(question_id)
    repeated = df["id"].duplicated(keep="first")
    for _, dup in df[repeated].iterrows():
        first = df.loc[df["id"] == dup["id"], "row"].iloc[0]
        bad.report(dup["row"], f"duplicate question (same as row {first}): {dup['question'][:80]!r}")
    df = validate_golds(df[~repeated].astype({"tier": int}), bad)
    if df.empty:
        raise ValueError(f"{bad.source}: no usable rows")
    return df[COLUMNS].reset_index(drop=True)


def validate_golds(df: pd.DataFrame, bad: BadRows) -> pd.DataFrame:
    """Every gold answer must be scorable, or every completion would silently score wrong.
    Returns the rows that passed (all of them unless `bad` skips)."""
    rows = df["row"] if "row" in df else range(len(df))
    keep = []
    for row, gold, kind in zip(rows, df["gold"], df["answer_type"]):
        problem = gold_problem(gold, kind)
        if problem:
            bad.report(row, problem)
        keep.append(problem is None)
    return df[keep]
