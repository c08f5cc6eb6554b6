"""A hub model is resolved once, before any job: a misspelled id or an unreachable hub
stops `snakemake` in seconds with a message naming `model` and the offline alternatives.
The hub is played by a local HTTP server answering as huggingface.co does for a missing
repository (the machine has no internet); huggingface_hub's own client and error mapping
run unchanged."""

import http.server
import json
import threading
import time

import huggingface_hub.constants
import pytest
from workflow_helpers import snakemake, test_config, write_config

from grpo_difficulty.config.sections import ConfigError
from grpo_difficulty.hub_models import model_revision, resolve_model

MISSING = "someone/not-a-model"


class MissingRepo(http.server.BaseHTTPRequestHandler):
    """What the hub answers for a repository it does not have (or the caller cannot see)."""

    def do_GET(self):
        body = json.dumps({"error": "Repository Not Found"}).encode()
        self.send_response(404)
        self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub_without_the_model():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MissingRepo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


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


def fake_cache(root, commit):
    """A cache laid out as huggingface_hub's, holding one snapshot of org/tiny (main)."""
    repo = root / "models--org--tiny"
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def test_a_cached_snapshot_serves_offline(tmp_path, monkeypatch):
    commit = "c" * 40
    fake_cache(tmp_path, commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert resolve_model("org/tiny") == f"model org/tiny: commit {commit} from the local cache (HF_HUB_OFFLINE)"
    assert model_revision("org/tiny") == f"{commit}, main (unpinned: set model_revision to pin it)"
    with pytest.raises(ConfigError, match="config error at model: 'org/other' is not in the Hugging Face cache"):
        resolve_model("org/other")
    # online but the hub unreachable: the cached snapshot serves, and the log says so
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", closed_port_endpoint())
    assert "did not answer (ConnectError" in resolve_model("org/tiny", timeout=5)
    assert resolve_model("org/tiny", timeout=5).endswith(f"using commit {commit} from the local cache")
