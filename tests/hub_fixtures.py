"""Local folders in the layout of Hugging Face dataset repositories, for testing the hub
loaders through the real `datasets.load_dataset` without network access; and a local
HTTP server that answers as huggingface.co does, for huggingface_hub's real client."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd


@dataclass
class HubRepo:
    """One model repository on the played hub: its refs (branch or tag -> commit) and the
    files every commit holds."""

    repo_id: str
    refs: dict[str, str]
    files: dict[str, bytes]

    def commit(self, revision: str) -> str | None:
        return self.refs.get(revision, revision if revision in self.refs.values() else None)


class HubHandler(http.server.BaseHTTPRequestHandler):
    """huggingface.co's answers for the server's `repo` (None: no repository): its info at
    a revision (/api/models/<id>[/revision/<rev>]), its file tree at a commit, and its
    files (/<id>/resolve/<rev>/<file>, with the commit and ETag headers); 404 RepoNotFound
    for anything else. The server's `requests` records every request."""

    def do_GET(self):
        self.server.requests.append(f"{self.command} {self.path}")
        repo: HubRepo | None = self.server.repo
        path = unquote(urlparse(self.path).path)
        api = f"/api/models/{repo.repo_id}" if repo else None
        routes = (
            {}
            if repo is None
            else {f"{api}/revision/": "info", f"{api}/tree/": "tree", f"/{repo.repo_id}/resolve/": "file"}
        )
        kind, revision, file = ("info", "main", "") if repo and path == api else (None, None, None)
        for prefix, name in routes.items():
            if path.startswith(prefix):
                kind, (revision, _, file) = name, path[len(prefix) :].partition("/")
        commit = repo.commit(revision) if kind else None
        if commit is None or (kind == "file" and file not in repo.files):
            return self.answer(
                404, json.dumps({"error": "Repository Not Found"}).encode(), {"X-Error-Code": "RepoNotFound"}
            )
        if kind == "file":
            body = repo.files[file]
            return self.answer(200, body, {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha1(body).hexdigest()}"'})
        if kind == "tree":
            tree = [
                dict(type="file", path=f, size=len(b), oid=hashlib.sha1(b).hexdigest()) for f, b in repo.files.items()
            ]
            return self.answer(200, json.dumps(tree).encode())
        info = dict(id=repo.repo_id, sha=commit, siblings=[dict(rfilename=f) for f in repo.files])
        return self.answer(200, json.dumps(info).encode())

    do_HEAD = do_GET

    def answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve_hub(repo: HubRepo | None = None):
    """The played hub holding `repo` (None: no repository): yields its endpoint (for
    HF_ENDPOINT) and the list of the requests it got."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HubHandler)
    server.repo, server.requests = repo, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.requests
    finally:
        server.shutdown()
        server.server_close()


def closed_port_endpoint() -> str:
    """An endpoint nothing listens on: connections are refused (a hub out of reach)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), HubHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


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
