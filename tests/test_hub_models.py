"""A hub model is resolved once, before any job: a misspelled id or an unreachable hub
stops `snakemake` in seconds with a message naming `model` and the offline alternatives.
It is downloaded once, by prepare_model, and every other job reads that folder with the
hub off. The hub is played by a local HTTP server answering as huggingface.co does for a
missing repository (the machine has no internet), and by caches in huggingface_hub's
layout; huggingface_hub's own client, cache lookup and error mapping run unchanged."""

import contextlib
import http.server
import json
import os
import shutil
import threading
import time

import huggingface_hub.constants
import pytest
from workflow_helpers import snakemake, test_config, write_config

from grpo_difficulty.config.sections import ConfigError
from grpo_difficulty.files import model_key
from grpo_difficulty.hub_models import model_revision, prepare_hub_model, prepared_commit, resolve_model

MISSING = "someone/not-a-model"


class MissingRepo(http.server.BaseHTTPRequestHandler):
    """What the hub answers for a repository it does not have (or the caller cannot see);
    the server's `requests` records every request."""

    def do_GET(self):
        self.server.requests.append(f"{self.command} {self.path}")
        body = json.dumps({"error": "Repository Not Found"}).encode()
        self.send_response(404)
        self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_missing_repo():
    """A hub without any repository: yields its endpoint and the list of requests it got."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MissingRepo)
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests
    finally:
        server.shutdown()


@pytest.fixture
def hub_without_the_model():
    with serve_missing_repo() as (endpoint, _):
        yield endpoint


def closed_port_endpoint():
    server = http.server.HTTPServer(("127.0.0.1", 0), MissingRepo)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now: connections are refused
    return f"http://127.0.0.1:{port}"


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
    """`snakemake prepare_model` downloads the hub model once (here from a prefetched
    cache, the hub unreachable); then, with the cache deleted and a hub that records every
    request, the probe, export, training and evaluation jobs run on that folder, each with
    HF_HUB_OFFLINE=1, and the hub hears nothing."""
    commit = "d" * 40
    hf_home = tmp_path / "hf_home"
    fake_cache(hf_home / "hub", commit, model_dir=tiny_model)
    config = test_config("unused")
    config["model"] = "org/tiny"
    config["subsets"] = {"easy": config["subsets"]["easy"]}
    write_config(tmp_path, config)
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_ENDPOINT", closed_port_endpoint())
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    snakemake(tmp_path, "prepare_model")
    folder = tmp_path / "results" / "models" / "org--tiny"
    assert json.loads((folder / "hub.json").read_text()) == dict(model="org/tiny", revision=None, commit=commit)
    shutil.rmtree(hf_home)  # what a compute node sees: no cache, no hub
    with serve_missing_repo() as (endpoint, requests):
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        result = snakemake(tmp_path, "probe", "evaluate")
    assert requests == []
    assert f"model org/tiny: commit {commit}, prepared in results/models/org--tiny" in result.stdout + result.stderr
    results = tmp_path / "results"
    logs = [*results.glob("probe/org--tiny/*/*/logs/rows*.log"), *results.glob("test/logs/*/*.log")]
    jobs = sorted(log.stem for log in logs if "HF_HUB_OFFLINE=1" in log.read_text())
    probes = [f"rows{rows}_{kind}" for rows in ("0-6", "6-12") for kind in ("b0", "b1", "greedy")]
    assert jobs == ["easy-seed0", *probes, "test-base", "test-easy-seed0"]  # training, probe, evaluation
    assert commit in (results / "test" / "export" / "README.md").read_text()  # the card names it
