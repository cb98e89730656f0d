"""An https endpoint through the real `openai` SDK and the process's one certificate store: a
certificate the store does not trust is refused, and `SSL_CERT_FILE` makes it trusted."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from metagpt.context import Context
from metagpt.exceptions import ProviderError
from metagpt.llm import LLM
from tests.e2e.conftest import openai_config
from tests.e2e.openai_server import OpenAIServer, answer

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def ask(base_url: str) -> str:
    context = Context(openai_config(base_url, max_retries=0))
    try:
        return await LLM(context=context).aask("hello")
    finally:
        await context.aclose()


async def test_a_certificate_is_trusted_only_through_the_configured_store(
    certificate, monkeypatch, allow_model_requests
) -> None:
    cert, key = certificate
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with OpenAIServer(lambda body: answer("hi over https"), tls=tls) as server:
        assert server.base_url.startswith("https://")
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        with pytest.raises(ProviderError):  # the system's store does not know our certificate
            await ask(server.base_url)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        assert await ask(server.base_url) == "hi over https"
