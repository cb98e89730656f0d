"""A model per role (`roles:` of config2.yaml) through the real SDK: each role's calls go to its own
endpoint, are journaled with its provider and model, and are charged to one budget."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from metagpt.config import Config
from metagpt.cost_manager import TOKEN_PRICES
from tests.e2e.conftest import API_KEY, MODEL
from tests.e2e.openai_server import OpenAIServer
from tests.e2e.test_company_openai import IDEA, STARTUP, build_company, company_reply, run
from tests.environ import settings_free_environ

ARCHITECT_MODEL = "gpt-4.1"


def config_file(tmp_path: Path, company: OpenAIServer, architect: OpenAIServer) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text(
        f"llm: {{api_type: openai, base_url: '{company.base_url}', api_key: {API_KEY}, model: {MODEL}}}\n"
        "roles:\n"
        "  - role: Architect\n"
        f"    llm: {{api_type: open_llm, base_url: '{architect.base_url}', api_key: sk-arch-key,"
        f" model: {ARCHITECT_MODEL}}}\n",
        encoding="utf-8",
    )
    return path


def bill(server: OpenAIServer, model: str) -> float:
    price = TOKEN_PRICES[model]
    return (
        sum(u["prompt_tokens"] * price.prompt + u["completion_tokens"] * price.completion for u in server.usages) / 1e6
    )


async def test_the_architect_asks_its_own_endpoint_and_both_are_charged_to_one_budget(allow_model_requests, tmp_path):
    with OpenAIServer(company_reply) as main, OpenAIServer(company_reply) as other:
        path = config_file(tmp_path, main, other)
        config = Config.load(tmp_path, env={}, config_file=path, workspace_path=tmp_path / "ws")

        company = await run(build_company(config))

        assert [r.body["model"] for r in other.requests] == [ARCHITECT_MODEL]  # the design, only
        assert other.requests[0].headers["authorization"] == "Bearer sk-arch-key"
        assert other.bodies[0]["response_format"]["json_schema"]["name"] == "SystemDesign"
        assert len(main.requests) == 8 and {r.body["model"] for r in main.requests} == {MODEL}
        assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in main.requests)
        costs = company.cost_manager
        assert costs.total_cost == pytest.approx(bill(main, MODEL) + bill(other, ARCHITECT_MODEL), rel=1e-12)
        assert costs.by_model[ARCHITECT_MODEL].calls == 1 and costs.by_model[MODEL].calls == 8
        db = sqlite3.connect(company.project.path / ".metagpt" / "state.db")
        rows = db.execute("SELECT DISTINCT role, api_type, model, base_url FROM calls ORDER BY role").fetchall()
        db.close()
        assert ("Architect", "open_llm", ARCHITECT_MODEL, other.base_url) in rows
        assert ("Engineer", "openai", MODEL, main.base_url) in rows


def test_cli_config_file_and_v_say_which_model_each_role_uses(allow_model_requests, tmp_path):
    with OpenAIServer(company_reply) as main, OpenAIServer(company_reply) as other:
        path = config_file(tmp_path, main, other)
        result = subprocess.run(
            [sys.executable, str(STARTUP), IDEA, "--config", str(path), "-v"],
            cwd=tmp_path,
            env={**settings_free_environ(), "HOME": str(tmp_path), "MERMAID_ENGINE": "none"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert result.returncode == 0, result.stderr[-3000:]
        assert len(other.requests) == 1 and len(main.requests) == 8
        assert f"Architect: open_llm {ARCHITECT_MODEL} at {other.base_url} [{path}: roles]" in result.stderr
        assert f"Engineer: openai {MODEL} at {main.base_url} [{path}: API_TYPE; {path}: OPENAI_API_MODEL]" in (
            result.stderr
        )
        assert "sk-arch-key" not in result.stderr
        logs = subprocess.run(
            [sys.executable, str(STARTUP), "logs", "summary", str(tmp_path / "workspace/cli_snake_game"), "--json"],
            cwd=tmp_path,
            env=settings_free_environ(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        providers = {(row["api_type"], row["model"]): row for row in json.loads(logs.stdout)["providers"]}
        assert sorted(providers) == [("open_llm", ARCHITECT_MODEL), ("openai", MODEL)]
        assert providers[("open_llm", ARCHITECT_MODEL)]["cost"] == pytest.approx(bill(other, ARCHITECT_MODEL))
        assert providers[("openai", MODEL)]["calls"] == 8
        assert "ROLES = [{'role': 'Architect', 'api_type': 'open_llm'" in result.stderr


def test_resume_of_a_run_that_mixed_providers_pays_nothing_again(allow_model_requests, tmp_path):
    with OpenAIServer(company_reply) as main, OpenAIServer(company_reply) as other:
        path = config_file(tmp_path, main, other)
        env = {**settings_free_environ(), "HOME": str(tmp_path), "MERMAID_ENGINE": "none", "ENGINEER_CONCURRENCY": "1"}

        def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
            command = [sys.executable, str(STARTUP), *args, "--config", str(path)]
            return subprocess.run(
                command, cwd=tmp_path, env={**env, **extra}, capture_output=True, text=True, timeout=60, check=False
            )

        crashed = cli(IDEA, METAGPT_CRASH_AT="after_journal:3")  # after the Architect's and the tasks' answers
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
        assert (len(main.requests), len(other.requests)) == (2, 1)

        resumed = cli("resume", str(tmp_path / "workspace/cli_snake_game"))

        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert (len(main.requests), len(other.requests)) == (8, 1)  # the design is not asked again
        total = bill(main, MODEL) + bill(other, ARCHITECT_MODEL)
        assert re.search(rf"Spent \${total:.4f} of", resumed.stderr), resumed.stderr[-2000:]


def test_the_architect_on_anthropic_and_the_rest_on_openai_within_one_budget(allow_model_requests, tmp_path):
    from tests.providers.anthropic_server import API_KEY as ANTHROPIC_KEY
    from tests.providers.anthropic_server import MODEL as CLAUDE
    from tests.providers.anthropic_server import AnthropicServer
    from tests.providers.anthropic_server import dollars as claude_dollars

    with OpenAIServer(company_reply) as main, AnthropicServer() as claude:
        path = tmp_path / "team.yaml"
        path.write_text(
            f"llm: {{api_type: openai, base_url: '{main.base_url}', api_key: {API_KEY}, model: {MODEL}}}\n"
            f"roles:\n  - role: Architect\n    llm: {{api_type: claude, base_url: '{claude.base_url}',"
            f" api_key: {ANTHROPIC_KEY}}}\n",
            encoding="utf-8",
        )
        result = subprocess.run(
            [sys.executable, str(STARTUP), IDEA, "--config", str(path)],
            cwd=tmp_path,
            env={**settings_free_environ(), "HOME": str(tmp_path), "MERMAID_ENGINE": "none"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert result.returncode == 0, result.stderr[-3000:]
        assert claude.paths == ["/v1/messages"] and claude.errors == []  # the design, over Anthropic's protocol
        assert claude.bodies[0]["tool_choice"]["name"] == "SystemDesign"  # the schema as a forced tool
        assert len(main.requests) == 8 and all(r.path == "/v1/chat/completions" for r in main.requests)
        total = bill(main, MODEL) + sum(claude_dollars(u, CLAUDE) for u in claude.usages)
        assert re.search(rf"Spent \${total:.4f} of \$3\.0+ ", result.stderr), result.stderr[-2000:]
        db = sqlite3.connect(tmp_path / "workspace/cli_snake_game/.metagpt/state.db")
        rows = set(db.execute("SELECT role, api_type, model FROM calls").fetchall())
        db.close()
        assert ("Architect", "anthropic", CLAUDE) in rows and ("Engineer", "openai", MODEL) in rows


async def test_role_config_in_a_script_uses_its_own_endpoint_and_the_teams_budget(allow_model_requests, tmp_path):
    from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
    from metagpt.software_company import SoftwareCompany
    from tests.e2e.conftest import openai_config

    with OpenAIServer(company_reply) as main, OpenAIServer(company_reply) as other:
        own = Config(api_type="open_llm", openai_base_url=other.base_url, openai_api_model=ARCHITECT_MODEL)
        company = SoftwareCompany(openai_config(main.base_url, workspace_path=tmp_path / "ws"))
        company.hire([ProductManager(), Architect(config=own), ProjectManager(), Engineer()])
        company.invest(3.0)
        company.start_project(IDEA)

        await run(company)

        assert len(other.requests) == 1 and len(main.requests) == 8
        total = bill(main, MODEL) + bill(other, ARCHITECT_MODEL)
        assert company.cost_manager.total_cost == pytest.approx(total, rel=1e-12)
