"""Atomic writes, stable hashes and path names: every stage writes through these helpers.

Kept free of torch so the Snakefile parses fast."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pandas as pd


def stable_hash(obj, length: int = 10) -> str:
    """Hash of a JSON-serialisable object, independent of dict key order."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


EMBEDDED_MODEL = "SmolLM2-135M-Instruct"


def model_key(model: str) -> str:
    """Directory-safe name of a model spec (`embedded`, a hub id, or `path:/dir`)."""
    if model == "embedded":
        return EMBEDDED_MODEL
    if model.startswith("path:"):
        path = Path(model[5:]).resolve()
        return f"{path.name}-{stable_hash(str(path), 6)}"
    return model.replace("/", "--")


def _atomic(path: str | Path, write) -> None:
    """Write via a temp file in the same directory and rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


CHECKSUM = "content_sha256"


def content_checksum(df: pd.DataFrame) -> str:
    """Hash of a table's columns and values (its CSV text: independent of dtype details
    such as object vs string columns, which change on a parquet round trip)."""
    return hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write a DataFrame as parquet or csv (by suffix), atomically. Parquet files carry a
    checksum of their contents (pandas keeps `attrs` in the file's metadata), so
    read_table detects a cache file edited or damaged after it was written."""
    if str(path).endswith(".csv"):
        _atomic(path, lambda tmp: df.to_csv(tmp, index=False))
    else:
        df = df.copy()
        df.attrs = {CHECKSUM: content_checksum(df)}
        _atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_text(text: str, path: str | Path) -> None:
    def write(tmp):
        Path(tmp).write_text(text)

    _atomic(path, write)


def write_json(obj, path: str | Path) -> None:
    write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


def read_table(path: str | Path, required: list[str] | None = None) -> pd.DataFrame:
    """Read a table written by write_table: a damaged file, a parquet file whose checksum
    does not match its contents, or missing columns are errors naming the file."""
    regenerate = "delete it and rerun snakemake to regenerate it"
    try:
        df = pd.read_csv(path) if str(path).endswith(".csv") else pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for truncated files
        raise ValueError(f"{path}: cannot be read ({err}); {regenerate}") from err
    if not str(path).endswith(".csv"):
        expected = df.attrs.get(CHECKSUM)
        if expected is None:
            raise ValueError(f"{path}: has no {CHECKSUM} (not written by this workflow); {regenerate}")
        if expected != content_checksum(df):
            raise ValueError(f"{path}: contents do not match their checksum (edited or damaged "
                             f"after it was written); {regenerate}")
        df.attrs = {}
    missing = [c for c in (required or []) if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; {regenerate}")
    return df


class log_to:
    """Send this process's stdout and stderr (file descriptors too, so library and C-level
    output and progress bars are captured) to a log file, for a rule's `log:`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __enter__(self):
        import sys

        self.path.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        self.file = open(self.path, "w")
        self.saved = [os.dup(1), os.dup(2)]
        os.dup2(self.file.fileno(), 1)
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        import sys
        import traceback

        if exc[0] is not None:  # the traceback belongs in the rule's log too
            traceback.print_exception(*exc)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)
        for fd in self.saved:
            os.close(fd)
        self.file.close()
        return False
