"""The interpreter through the real sandboxed kernel, played by a scripted model."""

from __future__ import annotations

import json
import os

import nbformat

from metagpt.roles import DataInterpreter
from metagpt.roles.di.data_interpreter import StopReason, extract_code
from tests.interpreter.conftest import code, make_context, plan


async def test_three_dependent_tasks_run_in_order_and_share_variables(workspace):
    answers = [
        plan(("3", ["2"], "print the total"), ("1", [], "load the numbers"), ("2", ["1"], "double them")),
        code("numbers = [1, 2, 3]\nprint('loaded', numbers)"),
        code("doubled = [n * 2 for n in numbers]\nprint(doubled)"),
        code("print('total', sum(doubled) + len(numbers))"),
    ]
    context, provider = make_context(workspace, answers)
    di = DataInterpreter(context=context)
    message = await di.run("Add up the doubled numbers")
    provider.assert_complete()
    assert di.outcome.stop_reason is StopReason.DONE
    assert [r.task.task_id for r in di.outcome.records] == ["1", "2", "3"]
    assert message.content == "total 15"
    # later prompts show the finished tasks' code and output
    assert "doubled = [n * 2 for n in numbers]" in provider.calls[3].messages[-1]["content"]
    assert "[2, 4, 6]" in provider.calls[3].messages[-1]["content"]
    folder = di.workdir
    notebook = nbformat.read(folder / "notebook.ipynb", as_version=4)
    nbformat.validate(notebook)
    sources = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert sources == [extract_code(a) for a in answers[1:]]
    assert notebook.cells[-1].outputs[0]["text"] == "total 15\n"
    saved = json.loads((folder / "plan.json").read_text())
    assert saved["stop_reason"] == "DONE" and [t["status"] for t in saved["tasks"]] == ["done"] * 3
    report = (folder / "index.html").read_text()
    assert "Interpreter" in report and "total 15" in report
    assert not (folder / ".kernel").exists()
    assert not (folder / ".git").exists()  # an interpreter's run keeps no history (docs/history.md)


async def test_a_failing_cell_gets_its_error_back_and_the_fix_passes(workspace):
    answers = [
        plan(("1", [], "compute a ratio")),
        code("ratio = 1 / 0"),
        code("ratio = 1 / 4\nprint(ratio)"),
    ]
    context, provider = make_context(workspace, answers)
    di = DataInterpreter(context=context)
    message = await di.run("compute a ratio")
    provider.assert_complete()
    assert di.outcome.code_calls == 2 and message.content == "0.25"
    fix_prompt = provider.calls[2].messages[-1]["content"]
    assert "ZeroDivisionError: division by zero" in fix_prompt and "ratio = 1 / 0" in fix_prompt
    assert di.outcome.records[0].attempts == 2


async def test_a_task_that_always_fails_stops_after_three_attempts_and_two_replans(workspace):
    failing = code("raise RuntimeError('still broken')")
    answers = [plan(("1", [], "do the impossible"))] + [failing] * 3
    answers += [plan(("2", [], "try another way"))] + [failing] * 3
    answers += [plan(("3", [], "try a third way"))] + [failing] * 3
    context, provider = make_context(workspace, answers)
    di = DataInterpreter(context=context)
    message = await di.run("do the impossible")
    provider.assert_complete()
    outcome = di.outcome
    assert outcome.stop_reason is StopReason.TASK_FAILED and outcome.replans == 2 and outcome.code_calls == 9
    assert "RuntimeError: still broken" in message.content
    replan_prompt = provider.calls[4].messages[-1]["content"]
    assert "Failed task" in replan_prompt and "still broken" in replan_prompt


async def test_unknown_or_cyclic_dependencies_are_sent_back_once(workspace):
    answers = [
        plan(("1", ["2"], "a"), ("2", ["1"], "b")),
        plan(("1", [], "a"), ("2", ["9"], "b")),
    ]
    context, provider = make_context(workspace, answers)
    di = DataInterpreter(context=context)
    message = await di.run("go")
    assert "invalid twice" in message.content and "unknown task '9'" in message.content
    assert "cycle" in provider.calls[1].messages[-1]["content"]
    assert di.outcome.stop_reason is StopReason.MODEL_OUTPUT


async def test_a_cell_that_sleeps_forever_is_interrupted_at_the_timeout(workspace):
    answers = [plan(("1", [], "wait")), code("import time\nwhile True:\n    time.sleep(1)"), code("print('woke')")]
    context, _ = make_context(workspace, answers, CELL_TIMEOUT=2)
    di = DataInterpreter(context=context)
    message = await di.run("wait")
    assert message.content == "woke"
    assert "interrupted after CELL_TIMEOUT (2s)" in di.outcome.records[0].output or di.outcome.code_calls == 2


async def test_a_kernel_that_exits_is_restarted_and_the_run_goes_on(workspace):
    answers = [
        plan(("1", [], "crash"), ("2", ["1"], "go on")),
        code("import os\nos._exit(1)"),
        code("value = 7\nprint(value)"),
        code("print(value * 6)"),
    ]
    context, provider = make_context(workspace, answers)
    di = DataInterpreter(context=context)
    message = await di.run("crash and go on")
    assert message.content == "42"
    assert "The kernel was restarted" in provider.calls[2].messages[-1]["content"]
    assert any("restarted 1 time" in n for n in di.outcome.notes)


async def test_the_kernel_sees_no_api_key_and_pip_is_refused(workspace, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-0123456789abcdef")
    secret_check = "import os\nprint(sorted(k for k in os.environ if 'KEY' in k or 'OPENAI' in k))"
    answers = [
        plan(("1", [], "check"), ("2", ["1"], "install")),
        code(secret_check),
        code("!pip install requests"),
        code("import subprocess\nsubprocess.run(['pip', 'install', 'requests'])"),
        code("print('no pip')"),
    ]
    context, _ = make_context(workspace, answers)
    di = DataInterpreter(context=context)
    message = await di.run("check the environment")
    assert di.outcome.records[0].output == "[]\n"
    assert message.content == "no pip"
    notebook = nbformat.read(di.workdir / "notebook.ipynb", as_version=4)
    refused = [c for c in notebook.cells if c.cell_type == "code" and "pip" in c.source and "install" in c.source]
    assert len(refused) == 2 and all(c.outputs[0]["ename"] == "PermissionError" for c in refused)
    assert "sk-canary" not in (di.workdir / "notebook.ipynb").read_text()
    assert os.environ["OPENAI_API_KEY"] == "sk-canary-0123456789abcdef"
