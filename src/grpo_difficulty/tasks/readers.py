"""Reading local data files (jsonl, json, parquet, csv) and hub datasets into records."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .rows import BadRows

def read_records(path: str | Path, bad: BadRows) -> list[dict | None]:
    """Rows of a local jsonl / json / parquet / csv file, as dicts. A jsonl line that is
    not UTF-8 or not JSON is reported as a bad row (row = line number - 1) and kept as None."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return [_json_line(line, i, bad) for i, line in enumerate(path.read_bytes().splitlines())
                if line.strip()]
    if suffix == ".parquet":
        return pd.read_parquet(path).to_dict("records")
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
    if suffix == ".json":
        try:
            return pd.read_json(path, dtype=False).to_dict("records")
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not valid json ({err})") from err
    raise ValueError(f"{path}: unsupported file type {suffix!r} (use .jsonl, .json, .parquet, .csv)")


def _json_line(line: bytes, row: int, bad: BadRows) -> dict | None:
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as err:
        bad.report(row, f"not valid UTF-8 ({err.reason} at byte {err.start})")
        return None
    except json.JSONDecodeError as err:
        bad.report(row, f"not valid JSON ({err.msg})")
        return None
    if not isinstance(record, dict):
        bad.report(row, f"expected a JSON object, found {type(record).__name__}")
        return None
    return record


# Hub id each hub loader reads unless the dataset's `path` says otherwise.
HUB_DEFAULTS = {
    "gsm8k_hub": "openai/gsm8k",
    "math_hub": "EleutherAI/hendrycks_math",
    "math500_hub": "HuggingFaceH4/MATH-500",
    "aime_hub": "opencompass/AIME2025",
    "bbh_hub": "lukaemon/bbh",
}


def hub_parts(spec: dict, configs: list[str | None], **load_args) -> list[tuple[str, list]]:
    """Records of each hub config (real `datasets.load_dataset`; tests point `path` at a
    local folder laid out like the hub repository)."""
    import datasets

    path, split = spec.get("path", HUB_DEFAULTS[spec["loader"]]), spec.get("split", "test")
    parts = []
    for name in configs:
        try:
            parts.append((name, list(datasets.load_dataset(path, name, split=split, **load_args))))
        except (ValueError, OSError, RuntimeError) as err:
            raise ValueError(f"datasets.load_dataset({path!r}, {name!r}, split={split!r}) failed: {err}") from err
    return parts
