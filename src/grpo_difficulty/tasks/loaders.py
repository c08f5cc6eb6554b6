"""Loaders: a dataset's config entry → the normalized table; its source, files and size."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from . import benchmarks, mapped
from .benchmarks import bbh_files
from .generators import PROCEDURAL, load_procedural
from .readers import HUB_DEFAULTS, data_files
from .rows import BadRows
from .scoring import is_plain_number

# Keys every dataset entry may have (config/schema.yaml), besides its loader's own.
COMMON_KEYS = {"loader", "seed", "limit", "bad_rows", "numeric_only", "question_field", "answer_field"}
# A plugin scorer (tasks.plugins) for every loader: in no data key (its source is in the
# probe's, training's and evaluations' keys); a file/hub dataset with one keeps its records.
SCORER_KEYS = {"scorer", "scorer_timeout"}
KEEPS_RECORDS = ("file", "hub")


@dataclass(frozen=True)
class Loader:
    """A dataset loader: (spec, bad rows) → the table, and the keys of a dataset entry it
    needs and may use besides COMMON_KEYS (config.checks enforces them before any job runs;
    they alone make the data's cache key, config.keys.data_key)."""

    load: Callable[[dict, BadRows], pd.DataFrame]
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    # Version of its parsing, part of the data key: bump it with any change to the rows it
    # makes from the same input, so that tables parsed by the old code are never reused.
    parser_version: int = 1

    @property
    def keys(self) -> frozenset[str]:
        """The keys of a dataset entry that decide its table (the data key's fields)."""
        return self.required | self.optional | COMMON_KEYS

    @property
    def allowed(self) -> frozenset[str]:
        return self.keys | SCORER_KEYS


def _loader(load, required=(), optional=()) -> Loader:
    return Loader(load, frozenset(required), frozenset(optional))


# The one list of loaders: config/schema.yaml's `loader` enum is tested equal to it.
LOADERS = {
    "file": _loader(mapped.load_file, {"path"}, mapped.MAPPING_KEYS),
    "hub": _loader(mapped.load_hub, {"path", "split"}, {"name", "revision"} | mapped.MAPPING_KEYS),
    "arithmetic": _loader(load_procedural, {"levels", "per_level", "split"}),
    "shuffled_objects": _loader(load_procedural, {"levels", "per_level", "split"}),
    "countdown": _loader(load_procedural, {"levels", "per_level", "split"}),
    "gsm8k_hub": _loader(benchmarks.load_gsm8k_hub, {"split"}, {"path", "name", "revision"}),
    "gsm8k_file": _loader(benchmarks.load_gsm8k_file, {"path"}),
    "math_hub": _loader(benchmarks.load_math_hub, {"split"}, {"path", "name", "subjects", "revision"}),
    "math500_hub": _loader(benchmarks.load_math500_hub, (), {"path", "name", "split", "revision"}),
    "aime_hub": _loader(benchmarks.load_aime_hub, (), {"path", "split", "configs", "revision"}),
    "bbh_hub": _loader(benchmarks.load_bbh_hub, (), {"path", "split", "objects", "revision"}),
    "bbh_file": _loader(benchmarks.load_bbh_file, {"path"}, {"objects"}),
}


def load_rows(spec: dict, bad: BadRows) -> pd.DataFrame:
    """Load one dataset from its config entry (see config/schema.yaml, `datasets`); bad rows
    go through `bad` (an error, or a counted skip). Then optionally keep only plain-number
    golds (`numeric_only`) and subsample (`limit`)."""
    if spec["loader"] not in LOADERS:
        raise ValueError(f"unknown dataset loader {spec['loader']!r}; allowed {sorted(LOADERS)}")
    df = LOADERS[spec["loader"]].load(spec, bad)
    if spec.get("numeric_only"):
        df = numeric_subset(df, bad.name)
    return _limit(df, spec)


def table_spec(spec: dict) -> dict:
    """A dataset entry as its table is made from it (rule prepare_data's params): without
    the scorer's keys, which decide no row, and with `records: True` for a file or hub
    dataset with a scorer (its rows keep their own fields for it)."""
    table = {key: value for key, value in spec.items() if key not in SCORER_KEYS}
    if spec.get("scorer") and spec["loader"] in KEEPS_RECORDS:
        table["records"] = True
    return table


def dataset_source(spec: dict) -> str:
    """How bad-row messages name a dataset: its file or folder, or hub id and split."""
    if spec["loader"] in ("file", "gsm8k_file", "bbh_file"):
        return str(spec["path"])
    if spec["loader"] == "hub" or spec["loader"] in HUB_DEFAULTS:
        return f"{spec.get('path', HUB_DEFAULTS.get(spec['loader']))}:{spec.get('split', 'test')}"
    return spec["loader"]


def input_files(spec: dict) -> list[str]:
    """Local files a dataset is read from (Snakemake inputs of prepare_data)."""
    if spec["loader"] == "gsm8k_file":
        return [str(spec["path"])]
    if spec["loader"] == "bbh_file":
        return [str(p) for p in bbh_files(spec)]
    if spec["loader"] == "file":
        return [str(p) for p in data_files(spec["path"])]
    return []


def config_problems(spec: dict) -> list[tuple[str, str]]:
    """(key of the dataset entry, message) for each mistake visible before loading it that
    the schema cannot express (called by rules/common.smk check_config)."""
    problems = mapped.config_problems(spec) if spec["loader"] in ("file", "hub") else []
    return _legacy_fields(spec) + problems


def _legacy_fields(spec: dict) -> list[tuple[str, str]]:
    """question_field/answer_field other than their defaults where the loader is not
    gsm8k_file: they would change the data key (COMMON_KEYS, kept there so that the keys
    of every table stay as they were) and no row."""
    if spec["loader"] == "gsm8k_file":
        return []
    mapping = spec["loader"] in ("file", "hub")
    return [
        (
            legacy,
            f"gsm8k_file's key; with loader {spec['loader']} "
            + (f"map fields.{role}" if mapping else "it reads no field"),
        )
        for legacy, role in (("question_field", "question"), ("answer_field", "answer"))
        if spec.get(legacy, role) != role  # the schema fills in the default
    ]


def known_size(spec: dict) -> int | None:
    """Row count of a procedural dataset without generating it (None: load it to know)."""
    if spec["loader"] in PROCEDURAL and not spec.get("limit") and not spec.get("numeric_only"):
        return len(spec["levels"]) * spec["per_level"][spec["split"]]
    return None


def _limit(df: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Optional seeded subsample (`limit`) so CPU runs can use a slice of a big dataset."""
    limit = spec.get("limit")
    if limit is None or limit >= len(df):
        return df
    return df.sample(n=limit, random_state=spec.get("seed", 0)).reset_index(drop=True)


def numeric_subset(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Rows whose gold is a plain number (integer or decimal, also once math-verify has
    read it: "\\frac{1}{2}" and "\\sqrt{2}" are not, "12" and "-3.5" are); logs the count."""
    keep = [is_plain_number(gold, kind) for gold, kind in zip(df["gold"], df["answer_type"], strict=True)]
    print(
        f"{source}: numeric_only kept {sum(keep)} of {len(df)} rows, "
        f"dropped {len(df) - sum(keep)} whose gold answer is not a plain number"
    )
    if not any(keep):
        raise ValueError(f"{source}: numeric_only left no rows (no gold answer is a plain number)")
    return df[keep].reset_index(drop=True)


def check_disjoint(train_set: str, train: pd.DataFrame, eval_sets: dict[str, pd.DataFrame]) -> dict:
    """Held-out evaluation is meaningless if a test question was trained on: every eval set
    against the training set (questions compared stripped of surrounding space). Raises
    naming each overlapping eval set and the training set by their config keys, with a
    shared question; returns the question counts checked, by config key."""
    questions = set(train["question"].str.strip())
    overlaps = []
    for name, rows in eval_sets.items():
        shared = questions & set(rows["question"].str.strip())
        if shared:
            overlaps.append(
                f"eval set datasets.{name} shares {len(shared)} of its {len(rows)} question(s) with the "
                f"training set datasets.{train_set} (train_set), e.g. {sorted(shared)[0][:100]!r}"
            )
    if overlaps:
        raise ValueError("; ".join(overlaps))
    return {f"datasets.{name}": len(rows) for name, rows in {train_set: train, **eval_sets}.items()}
