"""The agent's commands for one run: Plan, Editor, Terminal, Python, registry tools, ask_human, finish.

`Toolbox` builds them for a project folder and runs one command call, turning what it returns
or raises into an `Observation`. A model mistake (a refused path, a failing command, a tool's
`UserError`) is an observation the agent can react to; anything else is a bug and propagates.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from metagpt.configs.settings import Config
from metagpt.exceptions import NoMoneyException, ProviderError, UserError
from metagpt.roles.di.agent.commands import Command, CommandCall, ToolFailure, make_command
from metagpt.roles.di.agent.editor import Editor
from metagpt.roles.di.agent.memory import Observation
from metagpt.roles.di.agent.plan import Plan
from metagpt.roles.di.agent.terminal import Python, Terminal, kernel_available

OUTPUT_CHARS = 4000
STOP_WORDS = frozenset({"stop", "quit", "exit"})
"""An answer to `ask_human` that ends the run (`human_stop`)."""

Human = Callable[[str], Awaitable[str | None]]
"""Asks the person at the terminal a question; None when nobody can answer (input closed)."""


class HumanStop(Exception):
    """The person asked the agent to stop."""


class FinishRequested(Exception):
    """`finish` was called; the loop runs the goal check."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def usable_registry_tools(config: Config, store: Any) -> list[str]:
    """The registered tools that can work in this run: search with an engine, the store with one, HTTP with hosts."""
    import metagpt.tools.libs  # noqa: F401  (registers the built-in tools)
    from metagpt.tools.registry import TOOL_REGISTRY

    names = []
    for name in TOOL_REGISTRY.tools:
        if name == "web_search" and not (
            config.search_engine or config.serper_api_key or config.serpapi_api_key or config.google_api_key
        ):
            continue
        if name == "search_knowledge_base" and store is None:
            continue
        if name == "call_json_api" and not config.http_allowed_hosts:
            continue
        names.append(name)
    return names


class Toolbox:
    """Every command of one run, by name, and the objects behind them.

    Args:
        project: the `ProjectRepo` the agent works in.
        config: the run's settings (time limits, sandbox).
        registry_tools: names of registered tools to offer (`usable_registry_tools`).
        store: the document store the knowledge-base tool searches.
        human: asks the person at the terminal; None leaves `ask_human` out.
    """

    def __init__(
        self, project, config: Config, registry_tools: list[str], store: Any = None, human: Human | None = None
    ):
        self.config = config
        self.project = project
        self.store = store
        self.human = human
        self.plan = Plan()
        self.editor = Editor(project)
        self.terminal = Terminal(project.path, config.agent_command_timeout, config.sandbox, config.sandbox_network)
        self.python = Python(project.path, config.cell_timeout, config.sandbox, config.sandbox_network)
        commands = [
            make_command("Plan.append_task", self.plan.append_task),
            make_command("Plan.replace_task", self.plan.replace_task),
            make_command("Plan.finish_current_task", self.plan.finish_current_task),
            make_command("Editor.read", self.editor.read),
            make_command("Editor.write", self.editor.write),
            make_command("Editor.search", self.editor.search),
            make_command("Editor.replace", self.editor.replace),
            make_command("Terminal.run", self.terminal.run),
        ]
        if kernel_available():
            commands.append(make_command("Python.run", self.python.run))
        if registry_tools:
            import metagpt.tools.libs  # noqa: F401
            from metagpt.tools.registry import TOOL_REGISTRY

            commands += [make_command(t.name, t.func) for t in TOOL_REGISTRY.select(registry_tools)]
        if human is not None:
            commands.append(make_command("ask_human", self.ask_human))
        commands.append(make_command("finish", self.finish))
        self.commands: dict[str, Command] = {c.name: c for c in commands}

    async def ask_human(self, question: str) -> str:
        """Ask the person at the terminal a question and wait for the answer ("stop" ends the run).

        Args:
            question: what you need to know, in one or two sentences.
        """
        assert self.human is not None
        answer = await self.human(question)
        if answer is None:
            raise ToolFailure("nobody answered (the input is closed); decide for yourself")
        if answer.strip().lower() in STOP_WORDS:
            raise HumanStop(answer.strip())
        return f"the human answered: {answer.strip()}"

    def finish(self, reason: str) -> str:
        """Declare the goal done; with a goal check, it must pass first.

        Args:
            reason: why the goal is met, with the evidence.
        """
        raise FinishRequested(reason)

    def prompt(self) -> str:
        return "\n".join(c.prompt() for c in self.commands.values())

    async def run(self, call: CommandCall) -> Observation:
        """Run one command; its result or its refusal as an observation.

        Raises:
            FinishRequested, HumanStop: for the loop to act on.
            NoMoneyException: a tool's model call found no budget.
        """
        from metagpt.tools.context import ToolContext, current_tool_context

        command = self.commands[call.command_name]
        token = current_tool_context.set(ToolContext(self.config, self.project.path, self.store))
        try:
            result = command.func(**call.args)
            if inspect.isawaitable(result):
                result = await result
        except (FinishRequested, HumanStop, NoMoneyException):
            raise
        except (ToolFailure, UserError, ProviderError, ValueError, OSError, TimeoutError) as exc:
            text = str(exc) if isinstance(exc, ToolFailure) else f"{type(exc).__name__}: {exc}"
            return Observation(command=call, ok=False, output=_cut(text))
        finally:
            current_tool_context.reset(token)
        return Observation(command=call, ok=True, output=_cut(_text(result)))

    async def close(self) -> None:
        await self.python.close()


def _text(result: Any) -> str:
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, default=str)


def _cut(text: str) -> str:
    return text if len(text) <= OUTPUT_CHARS else text[:OUTPUT_CHARS] + f"\n[... cut: {len(text) - OUTPUT_CHARS} more]"
