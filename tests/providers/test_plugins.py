"""A provider from a package of its own: an entry point in the `metagpt.providers` group makes its
name an `api_type`, for the command line and scripts alike, without editing this package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROVIDER = '''
from metagpt.provider.fake import FakeProvider


class EchoProvider(FakeProvider):
    """Answers as the fake model does, under its own name."""

    api_type = "echo"

    @classmethod
    def from_config(cls, config):
        return cls(model=config.openai_api_model or "echo-1")
'''


@pytest.fixture
def plugin_site(tmp_path) -> Path:
    """An installed distribution `echo-provider` declaring `echo = echo_provider:EchoProvider`."""
    site = tmp_path / "site"
    info = site / "echo_provider-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "echo_provider.py").write_text(PROVIDER)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-provider\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[metagpt.providers]\necho = echo_provider:EchoProvider\n")
    return site


def run(args: list[str], cwd: Path, site: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "API_TYPE"))}
    clean.update(PYTHONPATH=os.pathsep.join([str(REPO), str(site)]), **env)
    return subprocess.run(args, cwd=cwd, env=clean, capture_output=True, text=True, timeout=120, check=False)


def test_an_entry_point_provider_runs_the_company_and_is_journaled_under_its_name(plugin_site, tmp_path):
    cli = [sys.executable, str(REPO / "startup.py")]

    done = run([*cli, "a snake game", "--no-implement", "-v"], tmp_path, plugin_site, API_TYPE="echo")
    summary = run([*cli, "logs", "summary", "--json"], tmp_path, plugin_site)

    assert done.returncode == 0, done.stderr
    assert "API_TYPE = echo" in done.stderr
    providers = json.loads(summary.stdout)["providers"]
    assert [(row["api_type"], row["model"]) for row in providers] == [("echo", "echo-1")]
    assert providers[0]["calls"] == 3  # PRD, design, tasks


def test_a_script_can_name_the_plugin_and_an_unknown_name_is_still_refused(plugin_site, tmp_path):
    script = (
        "import asyncio\n"
        "from metagpt.config import Config\n"
        "from metagpt.llm import LLM\n"
        "print(asyncio.run(LLM(config=Config(api_type='echo', openai_api_model='echo-2')).aask('hi')))\n"
        "try:\n"
        "    Config(api_type='nosuch')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, 'is not a known provider' in str(exc))\n"
    )

    done = run([sys.executable, "-c", script], tmp_path, plugin_site)

    assert done.returncode == 0, done.stderr
    answer, refused = done.stdout.strip().splitlines()
    assert answer and refused.endswith("True")


def test_register_provider_makes_a_new_name_an_api_type():
    from metagpt.config import Config
    from metagpt.configs.catalogue import PRESETS
    from metagpt.provider import create_provider, register_provider
    from metagpt.provider.fake import FakeProvider

    register_provider("in_process_echo", lambda config: FakeProvider(model="mine"))
    try:
        provider = create_provider(Config(api_type="in-process-echo"))
    finally:
        PRESETS.pop("in_process_echo")

    assert isinstance(provider, FakeProvider) and provider.model == "mine"
