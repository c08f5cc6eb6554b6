"""Tiers from a dataset's own difficulty field: integers as they are, labels in the order
the config lists them, or numeric scores binned into quantile tiers (tier 1 = easiest)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .rows import BadRow

_LABELLED_INTEGER = re.compile(r"[A-Za-z][A-Za-z _-]*?(\d+)")  # "Level 3", "grade-8"


def tier_value(value, labels: list[str] | None = None) -> float:
    """A row's raw difficulty: a number, an int-like string, "Level 3", or with `labels`
    (easiest first) the 1-based position of the value among them."""
    if isinstance(value, np.generic):
        value = value.item()
    if labels is not None:
        position = {str(label).strip().lower(): i for i, label in enumerate(labels, 1)}
        key = str(value).strip().lower()
        if key not in position:
            raise BadRow(f"tier {value!r} is not one of tier_labels {list(labels)}")
        return float(position[key])
    if isinstance(value, bool):
        raise BadRow(f"tier {value!r} is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    match = _LABELLED_INTEGER.fullmatch(text)
    if not match:
        raise BadRow(
            f"tier {value!r} is not a number (map a numeric field, or list its labels easiest first in tier_labels)"
        )
    return float(match.group(1))


def integer_tiers(df: pd.DataFrame, field: str, source: str) -> pd.DataFrame:
    """Integer difficulties are the tiers; anything else needs binning."""
    fractional = df[df["tier"] % 1 != 0]
    if not fractional.empty:
        first = fractional.iloc[0]
        raise ValueError(
            f"{source}: tier field {field!r} holds non-integer values ({len(fractional)} rows, e.g. "
            f"{first['tier']} at {first['row']}); set tier_bins: N to bin them into N quantile "
            "tiers"
        )
    return df


def bin_tiers(df: pd.DataFrame, bins: int, order: str, field: str, source: str) -> pd.DataFrame:
    """Quantile bins of the raw difficulty into tiers 1..n, tier 1 the easiest: with
    order "ascending" higher values are harder (a difficulty score), with "descending"
    higher values are easier (a pass rate). Ties can merge bins (n < bins); the log
    says which values each tier covers."""
    values = df["tier"]
    if values.nunique() == 1:
        codes, n = pd.Series(0, index=values.index), 1
    else:
        codes, edges = pd.qcut(values, bins, labels=False, retbins=True, duplicates="drop")
        n = len(edges) - 1
    tiers = codes + 1 if order == "ascending" else n - codes
    easier = "lower" if order == "ascending" else "higher"
    print(
        f"{source}: field {field!r} binned into {n} quantile tier(s) (asked for {bins}"
        f"{'; tied values merged bins' if n < bins else ''}); tier 1 = easiest = {easier} values:"
    )
    for tier in range(1, n + 1):
        members = values[tiers == tier]
        print(f"  tier {tier}: {field} {members.min():g} to {members.max():g} ({len(members)} rows)")
    return df.assign(tier=tiers.astype(int))
