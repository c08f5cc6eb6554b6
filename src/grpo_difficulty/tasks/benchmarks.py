"""Row parsers of the named benchmarks: GSM8K, MATH, MATH-500, AIME, BIG-Bench Hard."""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path

import pandas as pd

from .answers import solution_box
from .mapped import FieldMap, load_file, load_hub, mapped_frame
from .readers import HUB_DEFAULTS, hub_parts
from .rows import BadRow, BadRows, make_frame, required
from .scoring import CHOICE_GOLD


# --------------------------------------------------------------------------- GSM8K
def gsm8k_frame(
    records: list[dict | None], bad: BadRows, question_field="question", answer_field="answer"
) -> pd.DataFrame:
    """GSM8K rows: gold = the number after '####', tier = the number of worked steps."""
    fmap = FieldMap(fields=dict(question=question_field, answer=answer_field), answer_format="gsm8k", subject="gsm8k")
    return mapped_frame([("", records)], bad, fmap)


def load_gsm8k_file(spec: dict, bad: BadRows) -> pd.DataFrame:
    """A local file in GSM8K's schema: a preset of `loader: file`."""
    return load_file(gsm8k_file_as_file(spec), bad, subject="gsm8k")


def gsm8k_file_as_file(spec: dict) -> dict:
    fields = dict(question=spec.get("question_field", "question"), answer=spec.get("answer_field", "answer"))
    return dict(loader="file", path=spec["path"], fields=fields, answer_format="gsm8k")


def load_gsm8k_hub(spec: dict, bad: BadRows) -> pd.DataFrame:
    """openai/gsm8k (config main): a preset of `loader: hub`."""
    return load_hub(
        dict(
            spec, path=spec.get("path", HUB_DEFAULTS["gsm8k_hub"]), name=spec.get("name", "main"), answer_format="gsm8k"
        ),
        bad,
        subject="gsm8k",
    )


# --------------------------------------------------------------------------- MATH, AIME
MATH_SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)


def subject_key(subject: str) -> str:
    """MATH's `type` as its hub config name: "Counting & Probability" → counting_and_probability."""
    return re.sub(r"\W+", "_", subject.strip().lower().replace("&", "and"))


def math_level(value) -> int:
    """MATH levels come as "Level 3" (MATH) or 3 (MATH-500); "Level ?" rows exist upstream."""
    match = re.fullmatch(r"(?:Level\s*)?([1-5])", str(value).strip())
    if not match:
        raise BadRow(f"level {value!r} is not one of 1-5 (or 'Level 1'..'Level 5')")
    return int(match.group(1))


def _math_row(rec: dict, _part, subject_field: str, answer_field: str | None) -> dict:
    """A MATH-style row; the gold is the answer field, or else the solution's \\boxed{} answer."""
    solution = required(rec, "solution")
    if answer_field:
        gold = required(rec, answer_field)
    else:
        gold = solution_box(solution)
    return dict(
        question=required(rec, "problem"),
        gold=gold.strip(),
        answer_type="math",
        solution=solution,
        tier=math_level(rec.get("level")),
        subject=required(rec, subject_field),
    )


def _aime_row(rec: dict, part: str) -> dict:
    # no difficulty tiers within AIME: one tier, the exam (config) as subject
    return dict(
        question=required(rec, "question"),
        gold=required(rec, "answer").strip(),
        answer_type="math",
        solution=str(rec.get("solution") or ""),
        tier=1,
        subject=part,
    )


def load_math_hub(spec: dict, bad: BadRows) -> pd.DataFrame:
    """MATH: one hub config per subject (EleutherAI/hendrycks_math), or with `name` one
    config holding all subjects (DigitalLearningGmbH/MATH-lighteval: default) whose `type`
    is filtered by `subjects`."""
    subjects = spec.get("subjects", list(MATH_SUBJECTS))
    parts = hub_parts(spec, [spec["name"]] if "name" in spec else subjects)
    df = make_frame(parts, bad, partial(_math_row, subject_field="type", answer_field=None))
    df = df[df["subject"].map(subject_key).isin(subjects)].reset_index(drop=True)
    if df.empty:
        raise ValueError(f"{bad.name}: no rows of subjects {subjects}")
    return df


# --------------------------------------------------------------------------- BIG-Bench Hard
BBH_OBJECTS = {3: "three", 5: "five", 7: "seven"}


def bbh_task(objects: int) -> str:
    """BBH task (hub config, file stem) of tracking shuffled objects with this many objects."""
    return f"tracking_shuffled_objects_{BBH_OBJECTS[objects]}_objects"


def _bbh_row(rec: dict, part: str) -> dict:
    question, target = required(rec, "input"), required(rec, "target").strip()
    if not CHOICE_GOLD.fullmatch(target):
        raise BadRow(f"target {target!r} is not an option letter like '(A)'")
    if not re.search(rf"^{re.escape(target)} ", question, re.M):
        raise BadRow(f"target {target} is not one of the options in the input")
    task = part.removesuffix(".json")
    objects = next(n for n, word in BBH_OBJECTS.items() if task == bbh_task(n))
    return dict(question=question, gold=target, answer_type="choice", solution="", tier=objects, subject=task)


def bbh_files(spec: dict) -> list[Path]:
    """The local BBH files a `bbh_file` dataset reads (BIG-Bench-Hard's bbh/ folder layout)."""
    return [Path(spec["path"]) / f"{bbh_task(n)}.json" for n in spec.get("objects", list(BBH_OBJECTS))]


def _bbh_examples(path: Path) -> list:
    if not path.exists():
        raise FileNotFoundError(f"BBH file not found: {path}")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid UTF-8 JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise ValueError(f'{path}: expected {{"examples": [{{"input": ..., "target": ...}}, ...]}}')
    return data["examples"]


def _bbh_hub_parts(spec: dict) -> list[tuple[str, list]]:
    """lukaemon/bbh's main branch holds only a loading script, which `datasets` no longer
    runs; the hub's parquet export of it (revision refs/convert/parquet) has one folder
    per task: <task>/<split>/0000.parquet."""
    split = spec.get("split", "test")
    return [
        (task, records)
        for task in (bbh_task(n) for n in spec.get("objects", list(BBH_OBJECTS)))
        for _, records in hub_parts(
            spec,
            [None],
            data_files={split: f"{task}/{split}/*.parquet"},
            revision=spec.get("revision", "refs/convert/parquet"),
        )
    ]


AIME_CONFIGS = ["AIME2025-I", "AIME2025-II"]


def load_math500_hub(spec: dict, bad: BadRows) -> pd.DataFrame:
    return make_frame(
        hub_parts(spec, [spec.get("name")]), bad, partial(_math_row, subject_field="subject", answer_field="answer")
    )


def load_aime_hub(spec: dict, bad: BadRows) -> pd.DataFrame:
    return make_frame(hub_parts(spec, spec.get("configs", AIME_CONFIGS)), bad, _aime_row)


def load_bbh_hub(spec: dict, bad: BadRows) -> pd.DataFrame:
    return make_frame(_bbh_hub_parts(spec), bad, _bbh_row)


def load_bbh_file(spec: dict, bad: BadRows) -> pd.DataFrame:
    return make_frame([(p.name, _bbh_examples(p)) for p in bbh_files(spec)], bad, _bbh_row)
