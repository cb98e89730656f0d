"""Reading what untrusted code could have made: links, pipes, huge files, hostile JUnit, secrets."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from metagpt.actions.run_code import JunitError, read_junit
from metagpt.config import Config
from metagpt.logs import MASK, redact, register_config_secrets
from metagpt.report import render_report
from metagpt.utils.safe_read import UnsafeFile, read_bytes, walk_files


def test_safe_reads_refuse_links_pipes_devices_and_large_files(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "ok.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "env.txt").symlink_to("/proc/self/environ")
    os.mkfifo(tmp_path / "pkg" / "pipe.txt")
    (tmp_path / "pkg" / "null").symlink_to("/dev/null")
    (tmp_path / "linked").symlink_to(tmp_path / "pkg")
    with (tmp_path / "pkg" / "big.bin").open("wb") as file:
        file.truncate(1 << 30)
    assert read_bytes(tmp_path, "pkg/ok.py") == b"x = 1\n"
    start = time.monotonic()
    for name, why in [
        ("pkg/env.txt", "symbolic link"),
        ("pkg/pipe.txt", "not a regular file"),
        ("pkg/null", "symbolic link"),
        ("linked/ok.py", "a folder on its path is a link"),
        ("pkg/big.bin", "over the 1,048,576-byte limit"),
        ("pkg/none.py", "missing"),
        ("../etc/passwd", "not a path inside"),
    ]:
        with pytest.raises(UnsafeFile, match=why):
            read_bytes(tmp_path, name)
    assert time.monotonic() - start < 1  # the pipe did not block, the big file was not read
    listed = dict(walk_files(tmp_path))
    assert listed[Path("pkg/ok.py")] == "" and "linked" in listed[Path("linked")]
    assert "not a regular file" in listed[Path("pkg/pipe.txt")] and "symbolic link" in listed[Path("pkg/env.txt")]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'<testsuite tests="abc"/>', "is not a count"),
        (b"not xml", "not valid XML"),
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite tests="1">&a;</testsuite>', "DOCTYPE"),
        (b'<testsuite tests="1" failures="5"/>', "do not add up"),
        (b"<html/>", "no <testsuite>"),
        (b'<testsuite tests="-1"/>', "is not a count"),
    ],
)
def test_hostile_junit_reports_are_refused_with_a_reason(data: bytes, problem: str) -> None:
    with pytest.raises(JunitError, match=problem):
        read_junit(data)


def test_pytests_own_report_is_read() -> None:
    data = (
        b'<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" '
        b'skipped="0" tests="3"><testcase name="a"/><testcase name="b"><failure message="boom">trace</failure>'
        b"</testcase></testsuite></testsuites>"
    )
    assert read_junit(data) == (2, 1, 0, ["boom\ntrace"])


def test_every_configured_secret_and_key_shape_is_masked(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "key.yaml").write_text(
        "OPENAI_API_MODEL: gpt-4o-mini-2024\nOPENAI_BASE_URL: http://internal-gateway.corp:8080/v1\n"
    )
    config = Config(embedding_api_key="embed-secret-abcdef", serper_api_key="serper-secret-123456")
    register_config_secrets(config, tmp_path)
    text = (
        "embed-secret-abcdef serper-secret-123456 http://internal-gateway.corp:8080/v1 gpt-4o-mini-2024 "
        "sk-proj-abcdefghijklmnop ghp_abcdefghijklmnopqrstuvwxyz0123 AKIAABCDEFGHIJKLMNOP "
        "hf_abcdefghijklmnopqrstuvwxyz"
    )
    masked = redact(text)
    assert masked.split() == [MASK] * 3 + ["gpt-4o-mini-2024"] + [MASK] * 4


def test_the_report_skips_links_and_pipes_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "prd.md").write_text("# PRD\n\nsk-leaked-in-a-document-0123456789\n")
    (tmp_path / "docs" / "other.md").symlink_to("/proc/self/environ")
    (tmp_path / "game").mkdir()
    (tmp_path / "game" / "main.py").write_text("print('hi')\n")
    (tmp_path / "game" / "env.txt").symlink_to("/proc/self/environ")
    os.mkfifo(tmp_path / "game" / "pipe.txt")
    page = render_report(tmp_path)
    assert "print" in page and "PRD" in page
    assert "sk-leaked" not in page
    assert "game/env.txt: a symbolic link, not followed" in page
    assert "game/pipe.txt: not a regular file" in page
    assert "docs/other.md: a symbolic link, not followed" in page
    assert "OPENAI" not in page and "PATH=" not in page
