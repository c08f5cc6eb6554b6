"""Bring your own dataset: the `file` and `hub` loaders read any table through a field
mapping (`fields`) and an answer format (`answer_format`), keeping the dataset's own ids,
tiers and shipped pass rates when it has them. GSM8K's loaders are presets of these."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from .answers import ANSWER_FORMATS, choice_answer
from .readers import data_files, file_columns, hub_parts, read_records
from .rows import (
    BadRow,
    BadRows,
    as_text,
    is_missing,
    lookup,
    make_frame,
    record_json,
    required,
    value_of,
    with_options,
)
from .scoring import PLUGIN_TYPE, normalize_text
from .tiers import bin_tiers, integer_tiers, tier_value

DEFAULT_FIELDS = {"question": "question", "answer": "answer"}
# Dataset keys of the mapping, besides `fields` (config/schema.yaml documents each).
MAPPING_KEYS = {
    "fields",
    "answer_format",
    "answer_index_base",
    "tier_bins",
    "tier_order",
    "tier_labels",
    "pass_rate_scale",
}


@dataclass(frozen=True)
class FieldMap:
    """How one dataset's records become rows (see config/schema.yaml, datasets.*.fields)."""

    fields: dict  # role (question, answer, choices, id, tier, subject, solution, pass_rate) → field (dotted path)
    answer_format: str = "plain"
    answer_index_base: int = 0  # with fields.choices: an integer answer counts options from 0 (or 1)
    subject: str | None = None  # every row's subject when no field holds one; None: the file's or config's name
    tier_bins: int | None = None
    tier_order: str = "ascending"
    tier_labels: tuple | None = None
    pass_rate_scale: float = 1.0
    scorer: bool = False  # the dataset has a plugin scorer: keep the record, the answer is optional


def field_map(spec: dict, subject: str | None = None) -> FieldMap:
    labels = spec.get("tier_labels")
    fields = {**DEFAULT_FIELDS, **spec.get("fields", {})}
    scorer = bool(spec.get("records"))  # loaders.table_spec: the dataset has a plugin scorer
    return FieldMap(
        fields=fields,
        # with a scorer and no answer_format the answer goes to it as written (None)
        answer_format=spec.get("answer_format", "choice" if "choices" in fields else None if scorer else "plain"),
        answer_index_base=spec.get("answer_index_base", 0),
        subject=subject,
        tier_bins=spec.get("tier_bins"),
        tier_order=spec.get("tier_order", "ascending"),
        tier_labels=tuple(labels) if labels else None,
        pass_rate_scale=spec.get("pass_rate_scale", 1),
        scorer=scorer,
    )


def shipped_pass_rate(spec: dict) -> str | None:
    """The field holding a pass rate measured by the dataset's authors, if it names one:
    then subsets select from it instead of probing."""
    return spec.get("fields", {}).get("pass_rate")


def choice_options(value, field: str) -> tuple[list[str], list[str] | None]:
    """(texts, labels) of a choices field: a list of option texts, or an object of lists
    {"text": [...], "label": [...]} (the layout of ARC and other hub datasets)."""
    labels = None
    if isinstance(value, dict):
        if "text" not in value:
            keys = ", ".join(repr(k) for k in list(value)[:10])
            raise BadRow(f"field {field!r} is an object with keys {keys}; options need a 'text' list (and 'label')")
        value, labels = value["text"], value.get("label")
    if not isinstance(value, (list, tuple, np.ndarray)) or not 2 <= len(value) <= 26:
        raise BadRow(f"field {field!r} holds {value!r}, not a list of 2 to 26 options")
    if labels is not None and len(labels) != len(value):
        raise BadRow(f"field {field!r} has {len(value)} options but {len(labels)} labels")
    texts = [as_text(text, field).strip() for text in value]
    return texts, None if labels is None else [as_text(label, field).strip() for label in labels]


def choice_gold(answer: str, texts: list[str], labels: list[str] | None, index_base: int) -> str:
    """The option letter "(B)" an answer names: one of the options' labels, an integer
    index (from index_base), the text of exactly one option, or a letter."""
    answer = answer.strip()
    letters = string.ascii_uppercase[: len(texts)]
    if labels and answer in labels:
        return f"({letters[labels.index(answer)]})"
    if re.fullmatch(r"-?\d+", answer):
        index = int(answer) - index_base
        if not 0 <= index < len(texts):
            raise BadRow(
                f"answer index {answer} is out of range for {len(texts)} options (answer_index_base {index_base})"
            )
        return f"({letters[index]})"
    same_text = [i for i, text in enumerate(texts) if normalize_text(text) == normalize_text(answer)]
    if len(same_text) == 1:
        return f"({letters[same_text[0]]})"
    try:
        gold = choice_answer(answer)[1]
    except BadRow:
        raise BadRow(
            f"answer {answer!r} is not an option's label, an index, a letter or the text of one of its "
            f"{len(texts)} options"
        ) from None
    if gold[1] not in letters:
        raise BadRow(f"answer {answer!r} names no option: there are {len(texts)} ({letters[0]}-{letters[-1]})")
    return gold


def _answer(rec: dict, fmap: FieldMap) -> str:
    """The answer field's text; with a plugin scorer it may be missing (then "")."""
    if fmap.scorer and is_missing(lookup(rec, fmap.fields["answer"])):
        return ""
    return required(rec, fmap.fields["answer"], "answer")


def mapped_row(rec: dict, part: str | None, fmap: FieldMap) -> dict:
    fields = fmap.fields
    answer = _answer(rec, fmap)
    question = required(rec, fields["question"], "question")
    if "choices" in fields:
        texts, labels = choice_options(value_of(rec, fields["choices"], "choices"), fields["choices"])
        solution, gold, answer_type = "", choice_gold(answer, texts, labels, fmap.answer_index_base), "choice"
        question = with_options(question, texts)
    elif fmap.answer_format is None:
        solution, gold, answer_type = "", answer.strip(), PLUGIN_TYPE
    else:
        solution, gold, answer_type = ANSWER_FORMATS[fmap.answer_format](answer)
    row = dict(
        question=question,
        gold=gold,
        answer_type=PLUGIN_TYPE if fmap.scorer else answer_type,
        solution=solution,
        subject=fmap.subject or Path(part or "").name.split(".")[0],
    )
    if fmap.scorer:
        row["record"] = record_json(rec)
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
    return make_frame(parts, bad, partial(mapped_row, fmap=fmap), partial(_assign_tiers, fmap=fmap, source=bad.name))


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
    if "choices" in fields and spec.get("answer_format", "choice") != "choice":
        problems.append(("answer_format", f"{spec['answer_format']!r}: fields.choices needs answer_format choice"))
    if "answer_index_base" in spec and "choices" not in fields:
        problems.append(("answer_index_base", "counts options: needs fields.choices"))
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
        if role == "answer" and role not in fields and spec.get("scorer"):
            continue  # a scorer's rows need no answer
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
