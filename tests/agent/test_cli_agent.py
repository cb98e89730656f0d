"""`metagpt agent` as a process, through the real openai SDK against the loopback server."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.agent.conftest import CLI, ROOT, answer, prompts, run_cli
from tests.e2e.openai_server import answer as reply
from tests.environ import settings_free_environ

FINAL = re.compile(r"^Stopped: (\w+) \(steps (\d+), calls (\d+), \$(\d+\.\d+)\)")


def final(stdout: str) -> tuple[str, int, int, float]:
    match = FINAL.match(stdout.strip().splitlines()[-1])
    assert match, stdout
    return match.group(1), int(match.group(2)), int(match.group(3)), float(match.group(4))


def test_a_goal_needing_three_tools_finishes_with_the_check_passing(server, workspace):
    server.plan(
        reply(answer(("Plan.append_task", {"instruction": "write greet.py printing Hello, agent"}))),
        reply(answer(("Editor.write", {"path": "greet.py", "content": "print('Hello, agent')\n"}))),
        reply(answer(("Terminal.run", {"command": "python greet.py"}))),
        reply(answer(
            ("Plan.finish_current_task", {"result": "greet.py", "meets_task": True, "evidence": "it printed it"}),
            ("finish", {"reason": "greet.py prints the greeting"}),
        )),
    )  # fmt: skip
    result = run_cli(server, workspace, "write greet.py", "--project-name", "greet",
                     "--check", "python greet.py | grep -q 'Hello, agent'")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    reason, steps, calls, dollars = final(result.stdout)
    assert (reason, steps, calls) == ("finished", 4, 4) and 0 < dollars < 0.01
    folder = workspace / "greet"
    assert (folder / "greet.py").read_text() == "print('Hello, agent')\n"
    lines = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in lines] == [1, 2, 3, 4]
    assert "Hello, agent" in lines[2]["observations"][0]["output"]
    assert lines[3]["check"]["passed"] is True
    summary = json.loads((folder / "docs" / "agent.json").read_text())
    assert summary["plan"][0]["status"] == "done" and summary["self_checks"][0]["meets_task"] is True
    report = (folder / "index.html").read_text()
    assert "Agent" in report and "meets it: it printed it" in report and "Hello, agent" in report
    assert not (folder / ".git").exists()  # an agent's run keeps no history (docs/history.md)
    # the check is in every prompt, the plan's progress too, and the answer schema went to the endpoint
    assert all("python greet.py | grep -q" in p for p in prompts(server))
    assert "[current] 1: write greet.py" in prompts(server)[1]
    assert server.requests[0].body["response_format"]["json_schema"]["name"] == "AgentAnswer"
    logs = subprocess.run(
        [sys.executable, "-c", CLI, "logs", str(folder), "--json"],
        capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60,
    )  # fmt: skip
    assert logs.returncode == 0, logs.stderr
    calls_logged = json.loads(logs.stdout)
    assert len(calls_logged) == 4 and {c["role"] for c in calls_logged} == {"RoleZero"}


def test_a_finish_whose_check_fails_is_an_observation_and_the_run_goes_on(server, workspace):
    server.plan(
        reply(answer(("finish", {"reason": "surely done"}))),
        reply(answer(("Editor.write", {"path": "out.txt", "content": "42"}))),
        reply(answer(("finish", {"reason": "out.txt holds 42"}))),
    )
    result = run_cli(server, workspace, "put 42 in out.txt", "--project-name", "p", "--check", "file:out.txt:42")
    assert result.returncode == 0, result.stderr[-3000:]
    assert final(result.stdout)[:3] == ("finished", 3, 3)
    assert "not finished: the goal check failed" in prompts(server)[1]
    assert "out.txt: missing" in prompts(server)[1]


def test_steps_running_out_with_the_check_failing_is_check_failed(server, workspace):
    server.plan(*[reply(answer(("Editor.write", {"path": f"n{i}.txt", "content": str(i)}))) for i in range(3)])
    result = run_cli(server, workspace, "x", "--project-name", "p", "--max-steps", "3", "--check", "false")
    assert result.returncode == 7, result.stderr[-3000:]
    assert final(result.stdout)[:3] == ("check_failed", 3, 3)


def test_a_tiny_budget_ends_with_budget_and_the_spend_within_it(server, workspace):
    for i in range(50):
        server.plan(reply(answer(("Editor.write", {"path": f"n{i}.txt", "content": "x" * 50}))))
    result = run_cli(server, workspace, "keep writing", "--project-name", "p", "--investment", "0.004",
                     "--max-steps", "50", MAX_TOKENS="1000")  # fmt: skip
    assert result.returncode == 3, result.stderr[-3000:]
    reason, _steps, calls, dollars = final(result.stdout)
    assert reason == "budget" and 1 <= calls < 50 and calls == len(server.requests)
    assert dollars <= 0.004
    spent = re.search(r"Spent \$(\d+\.\d+) of \$0\.0040", result.stderr)
    assert spent and float(spent.group(1)) <= 0.004


def test_ask_human_reads_piped_input(server, workspace):
    server.plan(
        reply(answer(("ask_human", {"question": "Which colour?"}))),
        reply(answer(("Editor.write", {"path": "colour.txt", "content": "blue"}), ("finish", {"reason": "asked"}))),
    )
    result = run_cli(server, workspace, "ask for a colour", "--project-name", "p", stdin="blue\n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "The agent asks: Which colour?" in result.stderr
    assert "the human answered: blue" in prompts(server)[1]


def test_stop_typed_to_ask_human_is_human_stop(server, workspace):
    server.plan(reply(answer(("ask_human", {"question": "Go on?"}))))
    result = run_cli(server, workspace, "ask", "--project-name", "p", stdin="stop\n")
    assert result.returncode == 130, result.stderr[-3000:]
    assert final(result.stdout)[:3] == ("human_stop", 1, 1)


def test_without_input_there_is_no_ask_human_command(server, workspace):
    server.plan(reply(answer(("finish", {"reason": "nothing to do"}))))
    result = run_cli(server, workspace, "nothing", "--project-name", "p")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ask_human" not in prompts(server)[0]


def test_a_malformed_check_is_refused_before_anything_runs(server, workspace):
    result = run_cli(server, workspace, "x", "--check", "file:only-a-path")
    assert result.returncode == 2
    assert 'write a file check as "file:PATH:TEXT"' in result.stderr
    assert server.requests == [] and list(workspace.iterdir()) == []


def test_ctrl_c_mid_command_ends_as_human_stop_with_the_final_line(server, workspace):
    import os
    import signal
    import time

    from tests.agent.conftest import API_KEY

    server.plan(reply(answer(("Terminal.run", {"command": "sleep 60"}))))
    environ = settings_free_environ()
    environ.update(OPENAI_BASE_URL=server.base_url, OPENAI_API_KEY=API_KEY, WORKSPACE_PATH=str(workspace),
                   PYTHONPATH=str(ROOT), MERMAID_ENGINE="none")  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-c", CLI, "agent", "wait", "--project-name", "p"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ, cwd=workspace,
    )  # fmt: skip
    for _ in range(300):
        if len(server.requests) == 1:
            break
        time.sleep(0.1)
    time.sleep(1.5)  # the sleep command is running in the sandbox
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-3000:]
    assert final(stdout)[:3] == ("human_stop", 1, 1)
    assert "interrupted by SIGINT" in stdout
    assert (workspace / "p" / "docs" / "agent.md").is_file()
    assert not [p for p in os.listdir("/proc") if p.isdigit() and _cmdline(p).endswith(b"sleep 60\x00")]


def _cmdline(pid: str) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""
