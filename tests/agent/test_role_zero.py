"""RoleZero's loop with a scripted model: every run ends, for the reason its script calls for."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from metagpt.roles import RoleZero
from metagpt.roles.di.agent.stuck import NUDGE
from metagpt.roles.di.role_zero import StopReason
from metagpt.utils.token_counter import count_text_tokens
from tests.agent.conftest import answer, make_context


def prompt_of(provider, n: int) -> str:
    return provider.calls[n].messages[-1]["content"]


async def test_a_script_that_never_finishes_stops_at_exactly_max_steps(workspace):
    script = [answer(("Editor.write", {"path": f"notes/{i}.txt", "content": f"note {i}"})) for i in range(7)]
    context, provider = make_context(workspace, script)
    agent = RoleZero(context=context, max_steps=7)
    message = await agent.run("take notes forever")
    provider.assert_complete()
    outcome = agent.outcome
    assert outcome.stop_reason is StopReason.MAX_STEPS and outcome.steps == 7 and outcome.calls == 7
    assert message.content == "Stopped: max_steps (steps 7, calls 7, $0.0000): no finish within 7 steps"
    folder = context.project.path
    assert sorted(p.name for p in (folder / "notes").iterdir()) == [f"{i}.txt" for i in range(7)]
    assert len((folder / "steps.jsonl").read_text().splitlines()) == 7
    assert "Step 7 of at most 7" in prompt_of(provider, 6)


async def test_a_repeated_failing_command_is_nudged_once_then_stopped_as_stuck(workspace):
    failing = answer(("Terminal.run", {"command": "python -c 'import nope'"}))
    context, provider = make_context(workspace, [failing] * 6)
    agent = RoleZero(context=context, max_steps=20)
    await agent.run("import a module that does not exist")
    provider.assert_complete()
    assert agent.outcome.stop_reason is StopReason.STUCK and agent.outcome.steps == 6
    assert "the same failing command 3 times in a row, again after a nudge" in agent.outcome.detail
    assert NUDGE not in prompt_of(provider, 2)
    assert NUDGE in prompt_of(provider, 3)  # the step after the third failure
    assert "ModuleNotFoundError" in prompt_of(provider, 1)


async def test_an_a_b_alternation_is_caught(workspace):
    a = answer(("Editor.read", {"path": "a.txt"}))
    b = answer(("Editor.read", {"path": "b.txt"}))
    context, provider = make_context(workspace, [a, b] * 6)
    agent = RoleZero(context=context, max_steps=30)
    agent._project("alternate")
    (context.project.path / "a.txt").write_text("A")
    (context.project.path / "b.txt").write_text("B")
    await agent.run("alternate")
    provider.assert_complete()
    assert agent.outcome.stop_reason is StopReason.STUCK and agent.outcome.steps == 12
    assert "alternation of two steps" in agent.outcome.detail
    assert NUDGE in prompt_of(provider, 6) and NUDGE not in prompt_of(provider, 5)


async def test_four_identical_steps_are_stuck_too(workspace):
    same = answer(("Editor.search", {"text": "nothing here"}))
    context, _provider = make_context(workspace, [same] * 8)
    agent = RoleZero(context=context, max_steps=30)
    await agent.run("search")
    assert agent.outcome.stop_reason is StopReason.STUCK and agent.outcome.steps == 8
    assert "the same commands and observations 4 times" in agent.outcome.detail


async def test_stuck_with_a_person_at_the_terminal_asks_them(workspace):
    failing = answer(("Terminal.run", {"command": "exit 3"}))
    script = [failing] * 6 + [answer(("finish", {"reason": "the human said so"}))]
    context, provider = make_context(workspace, script)
    questions: list[str] = []

    async def human(question: str) -> str:
        questions.append(question)
        return "stop running exit 3 and finish"

    agent = RoleZero(context=context, max_steps=30, human=human, human_at_terminal=True)
    await agent.run("exit")
    provider.assert_complete()
    assert agent.outcome.stop_reason is StopReason.FINISHED and agent.outcome.steps == 7
    assert len(questions) == 1 and "stuck" in questions[0]
    assert "A human says: stop running exit 3 and finish" in prompt_of(provider, 6)


async def test_three_unparseable_answers_end_with_parse_failures(workspace):
    script = ["I think I will write a file.", '{"thought": "x"}', answer(("Editor.wrte", {"path": "a"}))]
    context, provider = make_context(workspace, script)
    agent = RoleZero(context=context, max_steps=30)
    await agent.run("write a file")
    provider.assert_complete()
    assert agent.outcome.stop_reason is StopReason.PARSE_FAILURES and agent.outcome.calls == 3
    # each unusable answer is shown back with its error
    assert "could not be used: the answer is not valid JSON" in prompt_of(provider, 1)
    assert "commands: Field required" in prompt_of(provider, 2)
    assert "'Editor.wrte'" in agent.outcome.detail and "does not match any of the expected tags" in agent.outcome.detail


async def test_a_usable_answer_resets_the_parse_failure_count(workspace):
    bad = "not json"
    good = answer(("Editor.write", {"path": "x.txt", "content": "x"}))
    context, _provider = make_context(workspace, [bad, bad, good, bad, bad, answer(("finish", {"reason": "ok"}))])
    agent = RoleZero(context=context, max_steps=30)
    await agent.run("write x")
    assert agent.outcome.stop_reason is StopReason.FINISHED and agent.outcome.calls == 6


async def test_paths_outside_the_folder_are_refused_and_the_run_goes_on(workspace, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    script = [
        answer(("Editor.write", {"path": "../escape.txt", "content": "x"})),
        answer(("Editor.write", {"path": str(tmp_path / "abs.txt"), "content": "x"})),
        answer(("Editor.read", {"path": "link.txt"})),
        answer(("Editor.write", {"path": "link.txt", "content": "overwritten"})),
        answer(("Editor.write", {"path": "docs/prd.md", "content": "x"})),
        answer(("Editor.read", {"path": ".metagpt/state.db"})),
        answer(("Editor.write", {"path": "ok.txt", "content": "inside"}), ("finish", {"reason": "wrote ok.txt"})),
    ]
    context, provider = make_context(workspace, script)
    agent = RoleZero(context=context, max_steps=30)
    folder = agent._project("stay inside").path
    os.symlink(outside, folder / "link.txt")
    await agent.run("stay inside")
    provider.assert_complete()
    assert agent.outcome.stop_reason is StopReason.FINISHED
    outputs = [s.observations[0].output for s in agent.steps]
    assert [s.observations[0].ok for s in agent.steps] == [False] * 6 + [True]
    assert "must not contain '..'" in outputs[0]
    assert "is outside the project folder" in outputs[1]
    assert "symbolic link" in outputs[2] and "link" in outputs[3]
    assert "'docs' holds the project's own files" in outputs[4]
    assert "'.metagpt' holds the project's own files" in outputs[5]
    assert outside.read_text() == "secret" and not (workspace / "escape.txt").exists()
    assert not (tmp_path / "abs.txt").exists() and (folder / "ok.txt").read_text() == "inside"


async def test_a_long_run_keeps_its_prompt_under_the_memory_cap(workspace):
    cap = 600
    script = [
        answer(
            ("Editor.write", {"path": f"f{i}.txt", "content": "word " * 400}),
            ("Terminal.run", {"command": f"python -c \"print('line {i} ' * 300)\""}),
            thought="thinking " * 100,
        )
        for i in range(40)
    ]
    context, provider = make_context(workspace, script, AGENT_MEMORY_TOKENS=cap, AGENT_RECENT_STEPS=3)
    agent = RoleZero(context=context, max_steps=40)
    await agent.run("write forty big files")
    assert agent.outcome.stop_reason is StopReason.MAX_STEPS and agent.outcome.steps == 40
    sizes = []
    for n in range(40):
        prompt = prompt_of(provider, n)
        memory = re.search(r"# Memory\n(.*)\n# Step \d+ of", prompt, re.S).group(1)
        assert count_text_tokens(memory.strip()) <= cap
        assert prompt.startswith("# Goal\nwrite forty big files") and "# Plan" in prompt
        sizes.append(count_text_tokens(prompt))
    assert max(sizes[10:]) - min(sizes[10:]) < cap  # bounded: the prompt no longer grows with the run
    late = prompt_of(provider, 39)
    assert "Earlier steps, summarised" in late and "step 36: Editor.write(path='f35.txt')" in late


async def test_python_runs_in_the_kernel_and_keeps_variables(workspace):
    pytest.importorskip("ipykernel")
    script = [
        answer(("Python.run", {"code": "total = sum(range(10))"})),
        answer(("Python.run", {"code": "print(total * 2)"})),
        answer(("finish", {"reason": "computed"})),
    ]
    context, _provider = make_context(workspace, script)
    agent = RoleZero(context=context, max_steps=5)
    await agent.run("compute")
    assert agent.outcome.stop_reason is StopReason.FINISHED
    assert agent.steps[1].observations[0].output.strip() == "90"
    assert not (context.project.path / ".kernel").exists()


async def test_a_self_check_that_fails_keeps_the_task_open(workspace):
    script = [
        answer(("Plan.append_task", {"instruction": "make a.txt"}), ("Plan.append_task", {"instruction": "b"})),
        answer(("Plan.finish_current_task", {"result": "none", "meets_task": False, "evidence": "a.txt missing"})),
        answer(
            ("Editor.write", {"path": "a.txt", "content": "a"}),
            ("Plan.finish_current_task", {"result": "a.txt", "meets_task": True, "evidence": "wrote it"}),
            ("finish", {"reason": "a.txt exists"}),
        ),
    ]
    context, provider = make_context(workspace, script)
    agent = RoleZero(context=context, max_steps=5)
    await agent.run("make a.txt")
    assert "task 1 stays unfinished" in agent.steps[1].observations[0].output
    assert "[current] 1: make a.txt" in prompt_of(provider, 2)
    saved = json.loads((context.project.path / "docs" / "agent.json").read_text())
    assert [c["meets_task"] for c in saved["self_checks"]] == [False, True]
    assert [t["status"] for t in saved["plan"]] == ["done", "current"]
    report = (context.project.path / "docs" / "agent.md").read_text()
    assert "**Stopped:** finished after 3 step(s)" in report
    assert "| 1 | done | make a.txt | meets it: wrote it |" in report


async def test_an_error_in_a_tool_that_is_a_bug_stops_the_run_as_error(workspace, monkeypatch):
    from metagpt.roles.di.agent.plan import Plan

    def broken(self, instruction: str) -> str:
        """Add a task (broken)."""
        raise KeyError("bug")

    monkeypatch.setattr(Plan, "append_task", broken)
    context, _ = make_context(workspace, [answer(("Plan.append_task", {"instruction": "x"}))])
    agent = RoleZero(context=context, max_steps=5)
    with pytest.raises(KeyError):
        await agent.run("x")
    assert agent.outcome.stop_reason is StopReason.ERROR and "KeyError" in agent.outcome.detail
    assert (Path(context.project.path) / "docs" / "agent.md").is_file()


async def test_a_registry_tool_answers_from_the_document_store(workspace, tmp_path):
    from metagpt.document_store.faiss_store import FaissStore
    from metagpt.embeddings.fake import FakeEmbedding

    pdf = Path(__file__).resolve().parents[2] / "data" / "example.pdf"
    store = FaissStore(pdf, cache_dir=tmp_path, embedding=FakeEmbedding())
    script = [
        answer(("search_knowledge_base", {"query": "sun protection SPF UV", "k": 2})),
        answer(("finish", {"reason": "found it"})),
    ]
    context, provider = make_context(workspace, script)
    agent = RoleZero(context=context, max_steps=5, store=store)
    await agent.run("which product protects from the sun?")
    provider.assert_complete()
    assert "search_knowledge_base(query: str, k: int = 3)" in prompt_of(provider, 0)
    assert "web_search" not in prompt_of(provider, 0)  # no engine configured: not offered
    hits = json.loads(agent.steps[0].observations[0].output)
    assert len(hits) == 2 and all(h["citation"].startswith("example.pdf, page") for h in hits)
