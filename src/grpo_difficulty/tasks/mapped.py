"""Bring your own dataset: the `file` and `hub` loaders read any table through a field
mapping (`fields`) and an answer format (`answer_format`), keeping the dataset's own ids,
tiers and shipped pass rates when it has them. GSM8K's loaders are presets of these."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from .answers import ANSWER_FORMATS
from .readers import data_files, file_columns, hub_parts, read_records
from .rows import BadRow, BadRows, as_text, is_missing, lookup, make_frame, required, value_of
from .tiers import bin_tiers, integer_tiers, tier_value

DEFAULT_FIELDS = {"question": "question", "answer": "answer"}
# Dataset keys of the mapping, besides `fields` (config/schema.yaml documents each).
MAPPING_KEYS = {"fields", "answer_format", "tier_bins", "tier_order", "tier_labels", "pass_rate_scale"}


@dataclass(frozen=True)
class FieldMap:
    """How one dataset's records become rows (see config/schema.yaml, datasets.*.fields)."""

    fields: dict  # role (question, answer, id, tier, subject, solution, pass_rate) → field (dotted path allowed)
    answer_format: str = "plain"
    subject: str | None = None  # every row's subject when no field holds one; None: the file's or config's name
    tier_bins: int | None = None
    tier_order: str = "ascending"
    tier_labels: tuple | None = None
    pass_rate_scale: float = 1.0


def field_map(spec: dict, subject: str | None = None) -> FieldMap:
    labels = spec.get("tier_labels")
    return FieldMap(
        fields={**DEFAULT_FIELDS, **spec.get("fields", {})},
        answer_format=spec.get("answer_format", "plain"),
        subject=subject,
        tier_bins=spec.get("tier_bins"),
        tier_order=spec.get("tier_order", "ascending"),
        tier_labels=tuple(labels) if labels else None,
        pass_rate_scale=spec.get("pass_rate_scale", 1),
    )


def shipped_pass_rate(spec: dict) -> str | None:
    """The field holding a pass rate measured by the dataset's authors, if it names one:
    then subsets select from it instead of probing."""
    return spec.get("fields", {}).get("pass_rate")


def mapped_row(rec: dict, part: str | None, fmap: FieldMap) -> dict:
    fields = fmap.fields
    solution, gold, answer_type = ANSWER_FORMATS[fmap.answer_format](required(rec, fields["answer"], "answer"))
    row = dict(
        question=required(rec, fields["question"], "question"),
        gold=gold,
        answer_type=answer_type,
        solution=solution,
        subject=fmap.subject or Path(part or "").name.split(".")[0],
    )
    if "id" in fields:
        row["id"] = required(rec, fields["id"], "id").strip()
    if "subject" in fields:
        row["subject"] = required(rec, fields["subject"], "subject").strip()
    if "solution" in fields:  # optional text: an empty one is no error
        value = lookup(rec, fields["solution"])
        row["solution"] = "" if is_missing(value) else as_text(value, fields["solution"])
    if "tier" in fields:
        row["tier"] = tier_value(value_of(rec, fields["tier"], "tier"), fmap.tier_labels)
    elif fmap.answer_format == "gsm8k":  # number of worked steps (non-empty solution lines), as in the GSM8K paper
        row["tier"] = sum(1 for line in solution.splitlines() if line.strip())
    else:
        row["tier"] = 1
    if "pass_rate" in fields:
        row["pass_rate"] = _pass_rate(value_of(rec, fields["pass_rate"], "pass_rate"), fmap.pass_rate_scale)
    return row


def _pass_rate(value, scale: float) -> float:
    text = as_text(value, "pass_rate").strip()
    try:
        rate = float(text[:-1]) / 100 if text.endswith("%") else float(text) / scale
    except ValueError:
        raise BadRow(f"pass rate {value!r} is not a number") from None
    if not 0 <= rate <= 1:
        raise BadRow(
            f"pass rate {value!r} is not in [0, 1] (set pass_rate_scale if the field counts correct "
            "answers out of N, or is a percentage)"
        )
    return rate


def _assign_tiers(df: pd.DataFrame, fmap: FieldMap, source: str) -> pd.DataFrame:
    if "tier" not in fmap.fields or fmap.tier_labels:
        return df
    if fmap.tier_bins:
        return bin_tiers(df, fmap.tier_bins, fmap.tier_order, fmap.fields["tier"], source)
    return integer_tiers(df, fmap.fields["tier"], source)


def mapped_frame(parts: list[tuple[str | None, list]], bad: BadRows, fmap: FieldMap) -> pd.DataFrame:
    return make_frame(parts, bad, partial(mapped_row, fmap=fmap), partial(_assign_tiers, fmap=fmap, source=bad.source))


def load_file(spec: dict, bad: BadRows, subject: str | None = None) -> pd.DataFrame:
    """`loader: file`: one local file or a glob of them, each a part named by its file."""
    paths = data_files(spec["path"])
    parts = [(p.name, read_records(p, bad, p.name if len(paths) > 1 else None)) for p in paths]
    return mapped_frame(parts, bad, field_map(spec, subject))


def load_hub(spec: dict, bad: BadRows, subject: str | None = None) -> pd.DataFrame:
    """`loader: hub`: datasets.load_dataset(path, name, split=split, revision=revision)."""
    default_subject = spec.get("name") or str(spec["path"]).rstrip("/").rsplit("/", 1)[-1]
    return mapped_frame(hub_parts(spec, [spec.get("name")]), bad, field_map(spec, subject or default_subject))


def config_problems(spec: dict) -> list[tuple[str, str]]:
    """(dataset key, message) for each mistake in a `file`/`hub` dataset's mapping that is
    visible before loading it: keys that need another, and for local files, a path that
    matches nothing or a mapped field that is no column (rules/common.smk check_config)."""
    fields = spec.get("fields", {})
    problems = [
        (key, f"needs fields.{needs}")
        for key, needs in [("tier_bins", "tier"), ("tier_labels", "tier"), ("pass_rate_scale", "pass_rate")]
        if key in spec and needs not in fields
    ]
    for legacy, role in (("question_field", "question"), ("answer_field", "answer")):
        if spec.get(legacy, role) != role:  # the schema fills in the default
            problems.append((legacy, f"gsm8k_file's key; with loader {spec['loader']} map fields.{role}"))
    if "tier_order" in spec and "tier_bins" not in spec:
        problems.append(("tier_order", "orders binned tiers only: set tier_bins (integer tiers are used as they are)"))
    if "tier_bins" in spec and "tier_labels" in spec:
        problems.append(("tier_labels", "labels are tiers already: set tier_bins or tier_labels, not both"))
    if spec["loader"] != "file":
        return problems
    try:
        paths = data_files(spec["path"])
        columns = {path: file_columns(path) for path in paths}
    except (OSError, ValueError) as err:
        return problems + [("path", str(err))]
    for role, name in {**DEFAULT_FIELDS, **fields}.items():
        for path, names in columns.items():
            if name not in names and name.split(".")[0] not in names:
                default = "" if role in fields else f" (the default; map the {role} with fields.{role})"
                problems.append(
                    (
                        f"fields.{role}",
                        f"{name!r}{default} is not a column of {path}; its columns: {', '.join(names[:30]) or 'none'}",
                    )
                )
                break
    return problems
