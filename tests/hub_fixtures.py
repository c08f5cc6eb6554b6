"""Local folders in the layout of Hugging Face dataset repositories, for testing the hub
loaders through the real `datasets.load_dataset` without network access."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def write_hub_repo(root: Path, files: dict[str, list[dict]], configs: dict[str, dict[str, str]] | None = None) -> str:
    """A local folder laid out like a Hugging Face dataset repository, for the real
    `datasets.load_dataset(path, name, split=...)` code path: data files (.jsonl or
    .parquet by suffix) and, if `configs` (config → split → file) is given, the README.md
    front matter that declares them (without it `datasets` infers splits from file names)."""
    for name, records in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.endswith(".parquet"):
            pd.DataFrame(records).to_parquet(path)
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
    if configs:
        lines = ["---", "configs:"]
        for config, splits in configs.items():
            lines += [f"- config_name: {config}", "  data_files:"]
            lines += [f"  - split: {split}\n    path: {file}" for split, file in splits.items()]
        (root / "README.md").write_text("\n".join([*lines, "---", ""]))
    return str(root)
