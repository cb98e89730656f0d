"""MetaGPT 0.4-0.8's unit-test uses of Role, Team, Environment, Context, config, providers, subscription."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from metagpt.actions import Action, ActionType, UserRequirement, WritePRD, WriteTest
from metagpt.actions.action_output import ActionOutput
from metagpt.context import Context
from metagpt.environment import Environment
from metagpt.exceptions import ConfigError, UserError
from metagpt.llm import LLM
from metagpt.provider.base import ModelResponse, Usage
from metagpt.provider.fake import FakeProvider
from metagpt.roles import Role
from metagpt.schema import Message, RawMessage
from metagpt.team import Team
from metagpt.utils.common import any_to_str


class Say(Action):
    async def run(self, history) -> str:
        return await self._aask(f"say something about {history[-1].content}")


def fake_context(fake_config, answers=None) -> Context:
    return Context(fake_config, provider=FakeProvider(answers))


async def test_generic_action_answers_its_instruction_on_the_history(fake_config):
    context = fake_context(fake_config, ["I think so."])
    action = Action(name="AlexSay", instruction="Express your opinion", context=context)
    history = [Message("Topic: tides", role="Human"), Message("Tides are lunar.", role="Bob")]

    node = await action.run(history)

    assert node is action.node and (node.content, node.instruct_content) == ("I think so.", None)
    prompt = context.provider.calls[0].messages[-1]["content"]
    assert prompt.startswith("## History Messages\n0: Bob: Tides are lunar.\n1: Human: Topic: tides")
    assert prompt.endswith("Express your opinion")
    assert action.i_context is None  # a Context is the configuration, not the action's input
    assert Action("Old", "some input").i_context == "some input"  # MetaGPT 0.1-0.5's positional context


async def test_role_keywords_and_the_names_of_its_steps(fake_config):
    writer = Action(name="Write", instruction="Write")
    role = Role(
        name="Alice",
        profile="Writer",
        goal="Write well",
        actions=[writer, Say],
        watch=[Say],
        context=fake_context(fake_config),
    )

    assert role.action_count == 2 and role.actions[0] is writer
    assert role.is_watch(Say) and role.is_watch(any_to_str(Say)) and not role.is_watch(UserRequirement)
    assert role.action_description == "Action"  # no todo yet: the first action's class name
    setting = role._setting
    assert setting == "Alice(Writer)" and f"{setting}" == "Alice(Writer)"
    assert (setting.name, setting.profile, setting.goal) == ("Alice", "Writer", "Write well")
    role.set_addresses({"writers"})
    assert role.subscription == {"writers"} and role.addresses == {"writers"}

    role.put_message(Message("news", cause_by=Say))
    role._set_react_mode("by_order")
    writer.desc = "Writes the first draft"
    todo = await role.think()
    assert todo is role.rc.todo is writer
    assert role.action_description == "Writes the first draft"
    output = await role.act()
    assert isinstance(output, ActionOutput) and "hello" in output.content  # the fake model's code block
    assert role.rc.memory.get(k=1)[0].content == output.content


async def test_handle_is_run_and_init_actions_is_set_actions(fake_config):
    role = Role(name="Bob", context=fake_context(fake_config, ["ok"]))
    role.init_actions([Say])

    reply = await role.handle(Message("tides", send_to="Bob"))

    assert reply.content == "ok" and reply.cause_by == Say


async def test_team_takes_env_and_roles_and_roles_share_its_budget(fake_config):
    env = Environment(context=fake_context(fake_config), desc="US election live broadcast")
    alex = Role(name="Alex", profile="Democratic candidate", actions=[Say])
    bob = Role(name="Bob", profile="Republican candidate", actions=[Say], watch=[Say])

    team = Team(investment=10, env=env, roles=[alex, bob])

    assert team.env is env and team.context is env.context and team.investment == 10
    assert alex.context is bob.context is team.context
    assert env.get_role("Republican candidate") is bob and env.get_role("Alex") is alex
    assert env.get_role("nobody") is None
    assert env.desc == "US election live broadcast"


def test_environment_has_a_context_shared_by_its_roles(fake_config, monkeypatch):
    monkeypatch.setenv("API_TYPE", "fake")
    env = Environment()
    first, second = Role(name="A"), Role(name="B")
    env.add_roles([first, second])

    assert isinstance(env.context, Context)
    assert first.context is second.context is env.context


def test_context_kwargs_config_views_and_project(fake_config, monkeypatch):
    context = Context(fake_config)
    context.kwargs.topic = "tides"

    assert context.kwargs["topic"] == "tides" and context.kwargs.missing is None
    assert context.git_repo is None and context.src_workspace is None  # no project started yet
    assert context.config.get_openai_llm() is None  # the fake provider is not OpenAI
    assert context.config.workspace.path == fake_config.workspace_path

    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    monkeypatch.setenv("OPENAI_API_MODEL", "gpt-4o")
    openai = Context().config.get_openai_llm()
    assert (openai.model, openai.api_key, openai.base_url) == ("gpt-4o", "sk-real", "https://api.openai.com/v1")
    assert openai.api_type.value == "openai"


def test_config2_is_a_view_whose_llm_can_be_reassigned(monkeypatch):
    from metagpt.config2 import Config
    from metagpt.configs.llm_config import LLMConfig, LLMType

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    gpt4, gpt35 = Config.default(), Config.default()
    gpt4.llm.model = "gpt-4-turbo"

    assert (gpt4.openai_api_model, gpt35.llm.model) == ("gpt-4-turbo", "gpt-4o-mini")  # no sharing
    assert gpt4.llm.base_url == "http://127.0.0.1:9/v1" and gpt4.llm.api_type == LLMType.OPENAI
    with pytest.raises(ConfigError, match="max_tokens"):
        gpt4.llm.max_token = -1  # validated like any setting
    own = LLMConfig(model="m", api_key="sk-x", base_url="http://localhost:1/v1")
    assert own.config.openai_api_model == "m" and "sk-x" not in repr(own)


def test_legacy_config_and_const_names(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKSPACE_PATH", str(tmp_path / "ws"))
    monkeypatch.setenv("MAX_BUDGET", "7")
    from metagpt.config import CONFIG
    from metagpt.const import DEFAULT_WORKSPACE_ROOT, WORKSPACE_ROOT

    assert CONFIG.workspace_path == tmp_path / "ws"
    assert CONFIG.max_budget == 7 and CONFIG.MAX_BUDGET == 7 and CONFIG.get("NOPE", "d") == "d"
    assert tmp_path / "ws" == WORKSPACE_ROOT
    assert tmp_path / "workspace" == DEFAULT_WORKSPACE_ROOT  # where runs from this folder write
    with pytest.raises(AttributeError, match="read-only"):
        CONFIG.max_budget = 10


def test_metagpt_root_is_the_folder_holding_examples_config_and_workspace(monkeypatch, tmp_path):
    import metagpt.const as const
    from metagpt.const import METAGPT_ROOT, PROJECT_ROOT

    checkout = Path(__file__).resolve().parents[2]
    assert METAGPT_ROOT == PROJECT_ROOT == checkout  # run from the checkout, whatever the current folder
    assert (METAGPT_ROOT / "examples/build_customized_agent.py").is_file() and Path.cwd() == tmp_path
    assert (METAGPT_ROOT / "config").is_dir() and (METAGPT_ROOT / "workspace").is_dir()

    monkeypatch.setattr(const, "SOURCE_ROOT", tmp_path / "site-packages")  # an installed package
    assert tmp_path == const.METAGPT_ROOT  # the current project
    monkeypatch.setenv("METAGPT_PROJECT_ROOT", str(tmp_path / "mine"))
    assert tmp_path / "mine" == const.METAGPT_ROOT
    monkeypatch.setenv("METAGPT_ROOT", str(tmp_path / "ours"))
    assert tmp_path / "ours" == const.METAGPT_ROOT and tmp_path / "ours/workspace" == const.DEFAULT_WORKSPACE_ROOT


def test_importing_the_compat_names_reads_no_configuration(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "key.yaml").write_text("NOT_A_KEY: 1\n")  # loading it would fail
    code = (
        "import metagpt.config2, metagpt.config, metagpt.const, metagpt.subscription, metagpt.provider.base_llm\n"
        "import metagpt.provider.human_provider, metagpt.roles.tutorial_assistant, metagpt.actions.action_node\n"
        "from metagpt.config2 import Config\nprint('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


def test_provider_names_and_the_dict_like_response(fake_config):
    from metagpt.provider.base_llm import BaseLLM
    from metagpt.provider.human_provider import HumanProvider
    from metagpt.provider.openai_api import OpenAILLM, OpenAIProvider

    assert BaseLLM is LLM and issubclass(OpenAILLM, OpenAIProvider)
    assert isinstance(Role(is_human=True, context=Context(fake_config)).llm, HumanProvider)
    response = ModelResponse(text="hi", usage=Usage(prompt_tokens=3, completion_tokens=1), model="m")
    assert response["choices"][0]["message"]["content"] == "hi" == response.choices[0].message.content
    assert response["usage"]["total_tokens"] == 4 and len(response) == 4 and "model" in response
    assert RawMessage(role="user", content="x") == {"role": "user", "content": "x"}
    assert ActionType.WRITE_PRD.value is WritePRD and WriteTest.__name__ == "WriteTest"


async def test_subscription_runner_runs_the_role_on_each_trigger_message(fake_config):
    from metagpt.subscription import SubscriptionRunner

    role = Role(name="Searcher", actions=[Say], context=fake_context(fake_config, ["first", "second"]))
    answers: list[str] = []

    async def trigger():
        for topic in ("OpenAI", "MetaGPT"):
            yield Message(f"the latest news about {topic}")

    async def callback(message: Message) -> None:
        answers.append(message.content)

    runner = SubscriptionRunner()
    await runner.subscribe(role, trigger(), callback)
    await asyncio.wait_for(runner.run(), timeout=10)

    assert answers == ["first", "second"] and runner.tasks == {}
    prompts = [c.messages[-1]["content"] for c in role.context.provider.calls]
    assert prompts == [
        "say something about the latest news about OpenAI",
        "say something about the latest news about MetaGPT",
    ]


async def test_subscription_runner_raises_a_failed_subscription(fake_config):
    from metagpt.subscription import SubscriptionRunner

    async def trigger():
        yield Message("x")
        raise UserError("the feed broke")

    async def callback(message: Message) -> None:
        pass

    runner = SubscriptionRunner()
    await runner.subscribe(Role(actions=[Say], context=fake_context(fake_config, ["ok"])), trigger(), callback)
    with pytest.raises(UserError, match="the feed broke"):
        await asyncio.wait_for(runner.run(), timeout=10)


async def test_tutorial_assistant_writes_the_directory_then_each_section(fake_config):
    from metagpt.roles.tutorial_assistant import TutorialAssistant

    directory = {"title": "MySQL basics", "directory": [{"Install": ["apt"]}, {"Query": ["SELECT", "JOIN"]}]}
    context = fake_context(fake_config, [json.dumps(directory), "## Install\nUse apt.", "## Query\nSELECT 1;"])
    role = TutorialAssistant(language="English", context=context)

    message = await role.run("Write a tutorial about MySQL")

    path = fake_config.workspace_path / "tutorial_docx"
    (written,) = path.glob("*/MySQL basics.md")
    assert message.content == str(written)
    assert written.read_text() == "# MySQL basics\n\n\n## Install\nUse apt.\n\n\n## Query\nSELECT 1;"
    prompts = [c.messages[-1]["content"] for c in context.provider.calls]
    assert "Write a tutorial about MySQL" in prompts[0] and "{'Query': ['SELECT', 'JOIN']}" in prompts[2]
