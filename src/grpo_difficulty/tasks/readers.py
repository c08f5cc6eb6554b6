"""Reading local data files (jsonl, json, parquet, csv) and hub datasets into records."""

from __future__ import annotations

import bz2
import csv
import glob
import gzip
import io
import json
import lzma
import tempfile
from contextlib import nullcontext
from pathlib import Path

import pandas as pd

from .rows import BadRows, Lines, where

# File suffix → format; a compression suffix after it (data.jsonl.gz) is read through its opener.
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".tsv": "tsv"}
OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
PEEK_ROWS = 100  # records whose keys stand for a json/jsonl file's columns at config time


def file_format(path: str | Path) -> str:
    suffixes = [s.lower() for s in Path(path).suffixes[-2:]]
    if suffixes and suffixes[-1] in OPENERS:
        suffixes.pop()
    if not suffixes or suffixes[-1] not in FORMATS:
        raise ValueError(
            f"{path}: unsupported file type (use {', '.join(FORMATS)}, optionally compressed {', '.join(OPENERS)})"
        )
    return FORMATS[suffixes[-1]]


def data_files(pattern: str | Path) -> list[Path]:
    """The files a `path` names: one file, or every match of a glob (*, ?, [...], ** for
    subfolders), sorted; all of one format."""
    pattern = str(pattern)
    if glob.has_magic(pattern):
        paths = [Path(p) for p in sorted(glob.glob(pattern, recursive=True)) if Path(p).is_file()]
        if not paths:
            raise FileNotFoundError(f"no dataset file matches {pattern}")
    else:
        paths = [Path(pattern)]
        if not paths[0].is_file():
            raise FileNotFoundError(f"dataset file not found: {pattern}")
    formats = {file_format(p) for p in paths}
    if len(formats) > 1:
        raise ValueError(f"{pattern}: matches files of several formats ({sorted(formats)}); use one format")
    return paths


def _read_bytes(path: Path) -> bytes:
    opener = OPENERS.get(path.suffix.lower())
    data = opener(path).read() if opener else path.read_bytes()
    return data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark


def read_records(path: str | Path, bad: BadRows, part: str | None = None) -> list[dict | None]:
    """Rows of a local jsonl / json / parquet / csv / tsv file, as dicts. Line-based files
    (jsonl, csv, tsv) give a `Lines` list, so that bad rows are named by the line an editor
    shows; a jsonl line that is not UTF-8 or not JSON and a csv row of too many cells are
    reported as bad rows ("line n of <part>" when one of several files) and kept as None,
    as are blank lines (not reported)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path}")
    kind = file_format(path)
    if kind == "jsonl":
        return _json_lines(path, bad, part)
    if kind == "json":
        return _json_records(path, bad, part)
    if kind == "parquet":
        try:
            return pd.read_parquet(path).to_dict("records")
        except Exception as err:  # pyarrow raises several types for files that are not parquet
            raise ValueError(f"{path}: cannot be read as parquet ({err})") from err
    return _csv_records(path, bad, part)


def _csv_rows(path: Path):
    """(line where the row starts, its cells) of each non-blank row of a csv/tsv file, the
    header first. Python's csv reader, not pandas', because it counts lines: a quoted cell
    may span several."""
    try:
        text = _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not valid UTF-8 ({err.reason} at byte {err.start})") from err
    csv.field_size_limit(2**31 - 1)  # long solutions are no error (pandas had no limit)
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter="\t" if file_format(path) == "tsv" else ",", strict=True
    )
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as err:
        raise ValueError(f"{path} line {reader.line_num}: cannot be read as {file_format(path)} ({err})") from err


def _csv_header(path: Path, rows) -> list[str]:
    """Column names (blanks around them dropped) from the first row of `rows`."""
    _, header = next(rows, (None, None))
    if header is None:
        raise ValueError(f"{path}: empty {file_format(path)} file (no header line)")
    names = [name.strip() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}: columns {repeated} appear more than once in the header")
    return names


def _csv_records(path: Path, bad: BadRows, part: str | None) -> Lines:
    """Every cell as text ('' when empty or missing at the end of a row)."""
    rows = _csv_rows(path)
    names = _csv_header(path, rows)
    records = Lines()
    for line, cells in rows:
        records.extend([None] * (line - 1 - len(records)))  # the header, blank and continued lines
        if len(cells) > len(names):
            bad.report(where(line, part, "line"), f"{len(cells)} cells, the header has {len(names)} columns")
            records.append(None)
        else:
            records.append(dict(zip(names, cells + [""] * (len(names) - len(cells)), strict=True)))
    return records


def _json_lines(path: Path, bad: BadRows, part: str | None = None) -> Lines:
    return Lines(
        _json_line(line, where(i + 1, part, "line"), bad) if line.strip() else None
        for i, line in enumerate(_read_bytes(path).splitlines())
    )


def _json_records(path: Path, bad: BadRows, part: str | None = None) -> list:
    """A .json file: a list of records, an object holding one list of records, or pandas'
    column layout ({column: {row: value}}); JSON lines in a .json file are read as such."""
    try:
        data = json.loads(_read_bytes(path).decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not valid UTF-8 ({err.reason} at byte {err.start})") from err
    except json.JSONDecodeError as err:
        if err.msg == "Extra data":  # one object per line
            return _json_lines(path, bad, part)
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [key for key, value in data.items() if isinstance(value, list)]
        if len(lists) == 1:
            return data[lists[0]]
        if data and all(isinstance(value, dict) for value in data.values()):
            return pd.DataFrame(data).to_dict("records")
        raise ValueError(
            f"{path}: expected a list of records or an object holding one list of records; "
            f"found an object with keys {list(data)[:20]}"
        )
    raise ValueError(f"{path}: expected a list of records, found {type(data).__name__}")


def _json_line(line: bytes, row: str, bad: BadRows) -> dict | None:
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


def file_columns(path: Path) -> list[str]:
    """Column names of a data file, read cheaply (the keys of the first records of json and
    jsonl files), for config-time checks of a field mapping."""
    kind = file_format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_schema(path).names
        except Exception as err:
            raise ValueError(f"{path}: cannot be read as parquet ({err})") from err
    if kind in ("csv", "tsv"):
        return _csv_header(path, _csv_rows(path))
    bad = BadRows(str(path), "skip")  # a broken row is prepare_data's to report
    records = (_json_lines(path, bad) if kind == "jsonl" else _json_records(path, bad))[:PEEK_ROWS]
    return list(dict.fromkeys(key for rec in records if isinstance(rec, dict) for key in rec))


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

    path, split = spec.get("path", HUB_DEFAULTS.get(spec["loader"])), spec.get("split", "test")
    if "revision" in spec:
        load_args.setdefault("revision", spec["revision"])
    # datasets keys its cache of a local folder by the folder's name, not its files'
    # contents: an edited folder (or another of the same name) would give the old rows and
    # features. A local folder is read through a cache of its own, removed afterwards.
    local = Path(str(path)).is_dir()
    parts = []
    for name in configs:
        try:
            with tempfile.TemporaryDirectory(prefix="hub-cache-") if local else nullcontext() as cache_dir:
                parts.append(
                    (name, list(datasets.load_dataset(path, name, split=split, cache_dir=cache_dir, **load_args)))
                )
        except (ValueError, OSError, RuntimeError) as err:
            raise ValueError(f"datasets.load_dataset({path!r}, {name!r}, split={split!r}) failed: {err}") from err
    return parts
