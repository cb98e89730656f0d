"""What `metagpt serve` must never do: run model text as page code, show files outside the
project, answer another site or name, or listen beyond loopback without a token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from metagpt.actions import PRD
from tests.e2e.openai_server import OpenAIServer, answer, realistic_reply, requested_document, sample_document
from tests.web.conftest import ROOT, Served, serving, start_serve

PAYLOAD = (
    "<script>alert('s')</script> <img src=x onerror=alert('i')> [click me](javascript:alert('j')) "
    '<a href="javascript:alert(\'a\')">raw link</a> <iframe src="//example.com"></iframe>'
)


LIST_PAYLOAD = "<script>alert(1)</script> <img src=x onerror=alert(2)> <a href=javascript:alert(3)>raw link</a>"
"""The payload without quotes or brackets, which a PRD's goals and stories refuse as JSON punctuation."""


def hostile_reply(body):
    """Realistic answers whose PRD holds the payload in every list of text it has."""
    if requested_document(body) is PRD:
        prd = sample_document(PRD)
        for key, value in prd.items():
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                prd[key] = [f"{v} {LIST_PAYLOAD}" for v in value]
        prd["original_requirements"] = PAYLOAD
        return answer(json.dumps(prd))
    return realistic_reply(body)


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def assert_inert(page: str) -> None:
    parser = Tags()
    parser.feed(page)
    scripts = [a for t, a in parser.tags if t == "script"]
    assert scripts == [{"src": "/static/app.js", "defer": ""}], scripts
    assert not [
        t for t, _ in parser.tags if t in ("iframe", "object", "embed", "frame", "base", "form") and t != "form"
    ]
    for tag, attrs in parser.tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        for key in ("href", "src", "action", "formaction"):
            assert not attrs.get(key, "").strip().lower().startswith(("javascript:", "data:", "vbscript:")), (
                tag,
                attrs,
            )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Iterator[tuple[Served, str]]:
    """A server with one finished project whose idea and model answers hold `PAYLOAD`."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    with OpenAIServer(hostile_reply) as model, serving(tmp_path, model) as serve:
        name = serve.post("/api/runs", {"idea": f"a snake game {PAYLOAD}", "project_name": "hostile"}).json["project"]
        assert serve.wait_done(name)["status"] == "finished"
        yield serve, name


def test_idea_and_model_answers_render_as_text(hostile):
    serve, name = hostile
    prd = (serve.workspace / name / "docs/prd.md").read_text()
    assert "<script>alert('s')</script>" in prd and "javascript:alert('j')" in prd  # the model's markdown holds it
    pages = ["/", f"/projects/{name}", f"/projects/{name}/docs/prd.md"]
    code = [f for f in serve.get(f"/api/projects/{name}").json["files"] if f.endswith(".py")]
    pages += [f"/projects/{name}/code/{code[0]}", f"/projects/{name}/code/docs/prd.md"]
    for path in pages:
        page = serve.get(path)
        assert page.status == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert_inert(page.text)
    for path in pages[:3]:
        assert "&lt;script&gt;alert(" in serve.get(path).text, path  # shown, as text
    document = serve.get(f"/projects/{name}/docs/prd.md").text
    assert "click me" in document and "&lt;img src=x onerror" in document


def test_headers_keep_the_page_to_its_own_code(hostile):
    serve, name = hostile
    for path in ("/", f"/projects/{name}", "/api/projects", f"/api/projects/{name}/files/docs/prd.md"):
        headers = serve.get(path).headers
        assert headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
    raw = serve.get(f"/api/projects/{name}/files/docs/prd.md")
    assert raw.headers["content-type"] == "text/plain; charset=utf-8"


def test_paths_outside_the_project_links_and_private_files_are_404(hostile, tmp_path):
    serve, name = hostile
    root = serve.workspace / name
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret")
    (root / "leak.txt").symlink_to(secret)
    (root / "docs/evil.md").symlink_to(secret)
    (root / "linked").symlink_to(tmp_path, target_is_directory=True)
    (root / "big.txt").write_text("x" * 600_000)
    (serve.workspace / "alias").symlink_to(root, target_is_directory=True)
    try:
        refused = [
            "../../secret.txt",
            "%2e%2e/%2e%2e/secret.txt",
            "%2E%2E%2F%2E%2E%2Fsecret.txt",
            "docs/..%2f..%2f.metagpt/state.db",
            f"%2F{str(secret).lstrip('/')}",
            f"/{secret}",
            "leak.txt",
            "docs/evil.md",
            "linked/secret.txt",
            "big.txt",
            ".git/config",
            ".metagpt/state.db",
            ".metagpt/lock",
            "logs/metagpt.log",
            ".gitignore",
            "docs",
            "missing.py",
        ]
        for path in refused:
            for prefix in (f"/api/projects/{name}/files/", f"/projects/{name}/code/"):
                answer = serve.get(prefix + path)
                assert answer.status == 404, (prefix + path, answer.status)
                assert b"the secret" not in answer.body and b"SQLite" not in answer.body
        assert serve.get(f"/projects/{name}/docs/evil.md").status == 404
        for project in ("alias", "..", "%2e%2e", "..%2f..%2ftmp"):
            assert serve.get(f"/api/projects/{project}").status == 404, project
            assert serve.get(f"/api/projects/{project}/files/docs/prd.md").status == 404, project
        files = serve.get(f"/api/projects/{name}").json["files"]
        assert not {"leak.txt", "docs/evil.md", "linked/secret.txt"} & set(files)
        assert "alias" not in [p["name"] for p in serve.get("/api/projects").json]
        assert serve.get(f"/api/projects/{name}/files/docs/prd.md").status == 200
    finally:
        for link in (root / "leak.txt", root / "docs/evil.md", root / "linked", serve.workspace / "alias"):
            link.unlink()
        (root / "big.txt").unlink()


def test_another_host_or_site_is_refused(serve):
    assert serve.get("/", Host=f"evil.example:{serve.port}").status == 421  # DNS rebinding
    assert serve.get("/api/projects", Host=f"127.0.0.1:{serve.port + 1}").status == 421
    assert serve.get("/api/projects", Host=f"localhost:{serve.port}").status == 200
    body = {"idea": "a game"}
    assert serve.post("/api/runs", body, Origin="http://evil.example").status == 403
    assert serve.post("/api/runs", body, Origin="null").status == 403
    assert serve.post("/api/runs", body, Origin=f"http://127.0.0.1:{serve.port + 1}").status == 403
    for origin in (None, ""):
        sent = serve.request("POST", "/api/runs", body=body, headers={"Origin": origin})
        assert sent.status == 403, origin
    big = {"idea": "x" * 70_000}
    assert serve.post("/api/runs", big).status == 413
    assert serve.get("/api/projects").json == []  # nothing was started


def _serve_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "metagpt", "serve", "--port", "0", *args], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_a_bind_beyond_loopback_needs_a_token(tmp_path):
    refused = _serve_cli("--host", "0.0.0.0", "--workspace", str(tmp_path))
    assert refused.returncode == 2
    assert "--token" in refused.stderr and "Serving" not in refused.stdout
    short = _serve_cli("--host", "0.0.0.0", "--token", "abc", "--workspace", str(tmp_path))
    assert short.returncode == 2 and "16 characters" in short.stderr


def test_a_token_is_needed_by_every_request(tmp_path, model):
    token = "t" * 24
    env = {**os.environ}
    with serving(tmp_path, model, "--token", token) as serve:
        assert serve.url.endswith(f"/?token={token}")
        assert serve.get("/api/projects").status == 401
        assert serve.get("/").status == 401
        assert serve.get("/api/projects", Authorization="Bearer wrong-token-wrong-token").status == 401
        assert serve.get("/api/projects", Authorization=f"Bearer {token}").json == []
        assert serve.get("/static/app.js").status == 200
        opened = serve.get(f"/?token={token}")
        assert opened.status == 303 and opened.headers["location"] == "/"
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        value = cookie.split(";", 1)[0]
        assert serve.get("/api/projects", Cookie=value).status == 200
        assert serve.get("/", Cookie="metagpt_token=wrong").status == 401
        # a script with the Bearer token needs no Origin; a page with the cookie does
        scripted = serve.request(
            "POST", "/api/runs", body={}, headers={"Authorization": f"Bearer {token}", "Origin": None}
        )
        assert scripted.status == 400
        assert serve.post("/api/runs", {"idea": "x"}, Cookie=value, Origin="http://evil.example").status == 403
    assert env == dict(os.environ)


def test_generated_token_is_printed_once(tmp_path, model):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    served = start_serve(workspace, dict(os.environ), "--token", "auto")
    try:
        token = served.url.split("?token=", 1)[1]
        assert len(token) >= 24
        assert served.get("/api/projects").status == 401
        assert served.get("/api/projects", Authorization=f"Bearer {token}").status == 200
    finally:
        served.stop()
    assert Path(served.workspace).is_dir()
