"""Bad settings and input: each ends in one `Error:` line, exit 2, before any request, in bounded time and memory."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.environ import settings_free_environ
from tests.robustness.conftest import API_KEY, IDEA, STARTUP, cli_env, error_lines, invoke


def alias_bomb(levels: int) -> str:
    """A YAML file of about 1 KB whose last alias expands to 9**levels strings."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    names = "abcdefghijklmnop"[: levels + 1]
    for previous, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join(f'*{previous}' for _ in range(9))}]")
    lines.append(f"OPENAI_API_MODEL: *{names[levels]}")
    return "\n".join(lines) + "\n"


def run_startup(server, cwd: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """`python startup.py ARGS` as a user runs it; returns the result and the process's peak memory in KiB.

    The peak is the new program's own high-water mark (`VmHWM`): `ru_maxrss` would include the
    size of the test process it was forked from.
    """
    environ = settings_free_environ()
    environ.update(cli_env(server, cwd / "workspace", **env))
    measured = (
        "import runpy, sys\n"
        f"sys.argv = [{str(STARTUP)!r}, *sys.argv[1:]]\n"
        "try:\n"
        f"    runpy.run_path({str(STARTUP)!r}, run_name='__main__')\n"
        "finally:\n"
        "    peak = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
        "    print('MAXRSS', peak.split()[1], file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", measured, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60
    )
    peak = int(next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("MAXRSS")))
    return done, peak


def test_a_1kb_alias_bomb_in_key_yaml_is_one_line_exit_2_in_bounded_memory(server, tmp_path):
    (tmp_path / "config").mkdir()
    text = alias_bomb(8)  # 9**8 = 43 million strings once expanded
    assert len(text) < 1024
    (tmp_path / "config" / "key.yaml").write_text(text)

    started = time.monotonic()
    done, peak_kib = run_startup(server, tmp_path, IDEA)

    assert time.monotonic() - started < 30
    assert done.returncode == 2, done.stderr
    assert error_lines(done.stderr) == [
        f"Error: {tmp_path / 'config' / 'key.yaml'}: line 2: YAML aliases (*name) are not allowed in settings "
        "files; write the value out in full."
    ]
    assert peak_kib < 300_000, f"peak memory {peak_kib} KiB"
    assert max(len(line) for line in done.stderr.splitlines()) < 400
    assert server.requests == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OPENAI_API_KEY": "sk-robust-0123456789abcdé"}, "OPENAI_API_KEY: holds a non-ASCII character at position 25"),
        ({"OPENAI_API_KEY": API_KEY + "\n"}, "OPENAI_API_KEY: holds a line break at position 27"),
        ({"OPENAI_API_MODEL": "gpt-4o\nmini"}, "OPENAI_API_MODEL: holds a line break at position 7"),
        ({"OPENAI_API_MODEL": "gpt-4o-mini-ü"}, "OPENAI_API_MODEL: holds a non-ASCII character at position 13"),
        ({"OPENAI_BASE_URL": "http://localhost:1/v1\r\nX: y"}, "OPENAI_BASE_URL: is not a usable URL: it holds a line"),
        ({"TEST_TIMEOUT": "1e300"}, "TEST_TIMEOUT: Input should be less than or equal to 86400 (got '1e300')."),
        ({"MAX_TOKENS": str(10**30)}, f"MAX_TOKENS: Input should be less than or equal to 1048576 (got '{10**30}')."),
        ({"TIMEOUT": "1e300"}, "TIMEOUT: Input should be less than or equal to 86400"),
        ({"ENGINEER_CONCURRENCY": "100000"}, "ENGINEER_CONCURRENCY: Input should be less than or equal to 256"),
    ],
)
def test_a_value_that_cannot_be_sent_is_exit_2_before_any_request(server, tmp_path, env, expected):
    result = invoke(server, tmp_path / "ws", IDEA, **env)

    assert result.exit_code == 2, result.output
    [line] = error_lines(result.output)
    assert line.startswith(f"Error: environment variable {expected}"), line
    assert API_KEY not in result.output and "sk-robust" not in result.output
    assert server.requests == []
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "Invalid IPv6 URL"),
        ("not a url", "it holds a space at position 4"),
        ("localhost:8000/v1", "no http:// or https:// scheme"),
        ("ftp://example.com/v1", "no http:// or https:// scheme"),
        ("http://:8000/v1", "no valid host name"),
        ("http://localhost:99999/v1", "Port out of range 0-65535"),
    ],
)
def test_a_base_url_is_checked_at_once(server, tmp_path, url, problem):
    started = time.monotonic()

    result = invoke(server, tmp_path / "ws", IDEA, "--base-url", url)

    assert time.monotonic() - started < 5  # no retries
    assert result.exit_code == 2, result.output
    assert error_lines(result.output) == [
        f"Error: --base-url: is not a usable URL: {problem}; write it like http://localhost:8000/v1 (got {url!r})."
    ]
    assert server.requests == []


def test_key_yaml_that_is_a_folder_a_dangling_link_or_a_pipe_is_an_error(server, tmp_path):
    key_file = tmp_path / "config" / "key.yaml"
    key_file.parent.mkdir()
    expected = {
        "folder": f"Error: {key_file}: is a folder, not a file; remove it, or put the settings in a file of that name.",
        "link": f"Error: {key_file}: a link to '{tmp_path / 'gone.yaml'}', which does not exist; fix the link or "
        "remove it.",
        "pipe": f"Error: {key_file}: is not a regular file (a pipe, socket or device); replace it with a text file "
        "of settings.",
    }
    makers = {
        "folder": key_file.mkdir,
        "link": lambda: key_file.symlink_to(tmp_path / "gone.yaml"),
        "pipe": lambda: os.mkfifo(key_file),
    }
    for kind, make in makers.items():
        make()
        started = time.monotonic()
        result = invoke(server, tmp_path / "ws", IDEA)
        assert time.monotonic() - started < 5, f"{kind}: blocked"
        assert result.exit_code == 2, result.output
        assert error_lines(result.output) == [expected[kind]]
        key_file.rmdir() if kind == "folder" else key_file.unlink()
    assert server.requests == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MAX_TOKENS: 100\nRPM: 3\nMAX_TOKENS: 200\n", "line 3: duplicate key 'MAX_TOKENS' (first set at line 1)"),
        ("MODEL_PRICES:\n  m: {prompt: 1, prompt: 2, completion: 1}\n", "line 2: duplicate key 'prompt'"),
        (f"{API_KEY}: 1\n{API_KEY}: 2\n", "line 2: duplicate key (first set at line 1)"),
        ("MAX_TOKENS: " + "[" * 100_000 + "\n", "line 1: nested deeper than 16 levels; flatten the value."),
        ("MAX_TOKENS: " + "1" * 5000 + "\n", "a value cannot be read (ValueError: Exceeds the limit"),
        ("OPENAI_API_MODEL: " + "y" * 100_000 + "\n", "OPENAI_API_MODEL: String should have at most"),
    ],
)
def test_settings_files_report_duplicates_depth_and_huge_values_in_one_short_line(server, tmp_path, text, expected):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "key.yaml").write_text(text)

    result = invoke(server, tmp_path / "ws", IDEA)

    assert result.exit_code == 2, result.output
    [line] = error_lines(result.output)
    assert expected in line
    assert len(line) < 400 + len(str(tmp_path))
    assert API_KEY not in result.output
    assert server.requests == []


def test_workspace_path_expands_the_home_folder(server, tmp_path):
    home = tmp_path / "home"
    home.mkdir()

    result = invoke(server, tmp_path / "unused", IDEA, "--no-implement", WORKSPACE_PATH="~/ws", HOME=str(home))

    assert result.exit_code == 0, result.output
    assert [p.name for p in (home / "ws").iterdir()] == ["cli_snake_game"]
    assert not (tmp_path / "~").exists()
