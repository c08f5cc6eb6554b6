"""A hub model is resolved once, before any job: a misspelled id or an unreachable hub
stops `snakemake` in seconds with a message naming `model` and the offline alternatives.
It is downloaded once, by prepare_model, and every other job reads that folder with the
hub off. The hub is played by a local HTTP server answering as huggingface.co does
(hub_fixtures.serve_hub; the machine has no internet) and by caches in huggingface_hub's
layout; huggingface_hub's own client, downloads, cache lookup and error mapping run
unchanged."""

import json
import os
import shutil
import time
from pathlib import Path

import huggingface_hub.constants
import pytest
from hub_fixtures import HubRepo, closed_port_endpoint, serve_hub
from workflow_helpers import snakemake, test_config, write_config

from grpo_difficulty.config.sections import ConfigError
from grpo_difficulty.files import model_key
from grpo_difficulty.hub_models import model_revision, prepare_hub_model, prepared_commit, resolve_model

MISSING = "someone/not-a-model"


@pytest.fixture
def hub_without_the_model():
    with serve_hub() as (endpoint, _):
        yield endpoint


def hub_config(tmp_path):
    config = test_config("unused")
    config["model"] = MISSING
    write_config(tmp_path, config)


@pytest.mark.parametrize(
    "where, message",
    [
        ("missing", f"config error at model: {MISSING!r} is not a model on the Hugging Face hub (misspelled?"),
        ("unreachable", "config error at model: the Hugging Face hub did not answer (ConnectError"),
    ],
)
def test_a_bad_hub_model_stops_the_run_in_seconds_before_any_job(
    tmp_path, monkeypatch, hub_without_the_model, where, message
):
    hub_config(tmp_path)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # an empty cache
    endpoint = hub_without_the_model if where == "missing" else closed_port_endpoint()
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    assert snakemake(tmp_path, "-n").returncode == 0  # a dry run needs no hub
    start = time.monotonic()
    result = snakemake(tmp_path, check=False)
    assert time.monotonic() - start < 60  # parsing and one request, not a probe job's retries
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert message in out and 'offline alternatives: model: "path:/dir"' in out and "HF_HUB_OFFLINE=1" in out
    assert len(out.splitlines()) < 80  # a message, not a 230-line traceback
    assert not (tmp_path / "results").exists()  # no job ran, not even prepare_data


def fake_cache(root, commit, ref="main", model_dir=None):
    """A cache laid out as huggingface_hub's, holding a snapshot of org/tiny that `ref`
    names: the files of `model_dir`, or a config.json naming the commit."""
    repo = root / "models--org--tiny"
    snapshot = repo / "snapshots" / commit
    if model_dir is None:
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").write_text(json.dumps({"commit": commit}))
    else:
        shutil.copytree(model_dir, snapshot)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / ref).write_text(commit)


def test_a_cached_snapshot_serves_offline(tmp_path, monkeypatch):
    commit = "c" * 40
    fake_cache(tmp_path, commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert resolve_model("org/tiny") == f"model org/tiny: commit {commit} from the local cache (HF_HUB_OFFLINE)"
    with pytest.raises(ConfigError, match="config error at model: 'org/other' is not in the Hugging Face cache"):
        resolve_model("org/other")
    # online but the hub unreachable: the cached snapshot serves, and the log says so
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", closed_port_endpoint())
    assert "did not answer (ConnectError" in resolve_model("org/tiny", timeout=5)
    assert resolve_model("org/tiny", timeout=5).endswith(f"using commit {commit} from the local cache")


def test_prepare_model_downloads_the_revision_once_into_its_folder(tmp_path, monkeypatch):
    """The revision (a commit, a tag, unset = main) resolved to its commit through
    huggingface_hub's real snapshot lookup (offline: a cache laid out as the hub's), its
    files linked into results/models/<model key>/ with hub.json naming the commit."""
    old, new = "a" * 40, "b" * 40
    fake_cache(tmp_path / "hub", old, ref="v1")
    fake_cache(tmp_path / "hub", new)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    for revision, commit in [(old, old), ("v1", old), (None, new)]:
        out = tmp_path / "models" / model_key("org/tiny", revision)
        assert (
            prepare_hub_model("org/tiny", revision, out)
            == f"model org/tiny ({revision or 'main'}): commit {commit} in {out}"
        )
        assert json.loads((out / "config.json").read_text()) == {"commit": commit}
        cached = tmp_path / "hub" / "models--org--tiny" / "snapshots" / commit / "config.json"
        assert os.path.samefile(out / "config.json", cached)  # linked, not a second copy
        assert prepared_commit(out) == commit
        assert model_revision("org/tiny", revision, str(out)).startswith(f"{commit}, ")
    assert model_revision("org/tiny", None, str(out)) == f"{new}, main (unpinned: set model_revision to pin it)"
    with pytest.raises(ConfigError, match="config error at model: downloading 'org/other' at main failed"):
        prepare_hub_model("org/other", None, tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_jobs_read_the_prepared_folder_with_the_hub_off(tmp_path, monkeypatch, tiny_model):
    """`snakemake prepare_model` downloads the hub model once, at model_revision (a tag)
    resolved to its commit, from a played hub into an empty cache; then, with the cache
    deleted and a hub that records every request and holds nothing, the probe, export,
    training and evaluation jobs run on that folder, each with HF_HUB_OFFLINE=1, and the
    hub hears nothing."""
    old, new = "e" * 40, "f" * 40
    files = {str(p.relative_to(tiny_model)): p.read_bytes() for p in Path(tiny_model).rglob("*") if p.is_file()}
    config = test_config("unused")
    config["model"], config["model_revision"] = "org/tiny", "v1"
    config["subsets"] = {"easy": config["subsets"]["easy"]}
    write_config(tmp_path, config)
    hf_home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with serve_hub(HubRepo("org/tiny", {"main": new, "v1": old}, files)) as (endpoint, requests):
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        snakemake(tmp_path, "prepare_model")
    assert "GET /api/models/org/tiny/revision/v1" in requests  # resolved (onstart, then the download)
    assert {f"GET /org/tiny/resolve/{old}/{file}" for file in files} <= set(requests)  # every file, at the commit
    folder = tmp_path / "results" / "models" / "org--tiny@v1"
    assert json.loads((folder / "hub.json").read_text()) == dict(model="org/tiny", revision="v1", commit=old)
    assert all((folder / file).read_bytes() == body for file, body in files.items())
    shutil.rmtree(hf_home)  # what a compute node sees: no cache, no hub
    with serve_hub() as (endpoint, requests):
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        result = snakemake(tmp_path, "probe", "evaluate")
    assert requests == []
    assert f"model org/tiny: commit {old}, prepared in results/models/org--tiny@v1" in result.stdout + result.stderr
    results = tmp_path / "results"
    logs = [*results.glob("probe/org--tiny@v1/*/*/logs/rows*.log"), *results.glob("test/logs/*/*.log")]
    jobs = sorted(log.stem for log in logs if "HF_HUB_OFFLINE=1" in log.read_text())
    probes = [f"rows0-12_{kind}" for kind in ("b0", "b1", "greedy")]
    assert jobs == ["easy-seed0", *probes, "test-base", "test-easy-seed0"]  # training, probe, evaluation
    assert old in (results / "test" / "export" / "README.md").read_text()  # the card names the commit
