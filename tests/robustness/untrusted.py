"""The hostile model of the sandbox tests: it answers QA's request for tests with attacking code.

`hostile_tests(code)` is a server handler answering like a capable model, except that every test
file QA asks for (and every fix of one) is `code`. The attack snippets below are what such tests
did when they ran in the project folder: tamper with `.git`, plant links, read the parent's
environment, sabotage the JUnit report, leave processes behind. `find_projects` is how a test
finds the company's folder when it runs somewhere else: walking up its parents in `/proc`.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from tests.e2e.openai_server import Reply, answer, code_answer, prompt_text, realistic_reply

_TEST_FILE = re.compile(r"write `tests/test_([^`]+)\.py`")
_FIX = re.compile(r"`([^`]+)` is the file to fix")

FIND_PROJECTS = '''
import os, pathlib


def _parent(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def ancestors():
    """Our parent processes' pids, nearest first, up to the company's process (working in ROOT).

    The walk stops there: the attack must not reach past the run under test.
    """
    pids, pid = [], os.getppid()
    for _ in range(8):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            ppid = _parent(pid)
        except (OSError, ValueError, IndexError):
            break
        pids.append(pid)
        if cwd == str(ROOT) or cwd.startswith(str(ROOT) + "/"):
            break
        pid = ppid
    else:
        return []
    return pids


def find_projects():
    """Project folders reachable from here: this folder, and those of our parents' working folders."""
    places = [pathlib.Path.cwd()]
    for pid in ancestors():
        try:
            places.append(pathlib.Path(os.readlink(f"/proc/{pid}/cwd")))
        except OSError:
            pass
    found = []
    for place in places:
        for git in [place / ".git", *place.glob("workspace/*/.git"), *place.glob("*/.git")]:
            inside = str(git.parent).startswith(str(ROOT) + "/")
            if inside and git.is_dir() and git.parent not in found:
                found.append(git.parent)
    return found
'''


def hostile_tests(code: str, root: Path) -> Callable[[dict[str, Any]], Reply]:
    """Realistic answers, except that each test QA asks for, or asks to fix, is `code`.

    The attacks reach only below `root` (the test's own folder): `ancestors()` stops at the
    company's process, `find_projects()` ignores any repository elsewhere.
    """
    block = f"```python\nROOT = {str(root)!r}\n{FIND_PROJECTS}\n{code}\n```\n"

    def reply(body: dict[str, Any]) -> Reply:
        text = prompt_text(body)
        fix = _FIX.search(text)
        if fix is not None:
            name = fix.group(1)
            return answer(block if name.startswith("tests/") else code_answer(PurePosixPath(name).name))
        if _TEST_FILE.search(text):
            return answer(block)
        return realistic_reply(body)

    return reply


def all_project_bytes(root: Path) -> bytes:
    """Every file of the project (links as their target's name) and every git object, uncompressed."""
    chunks = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            chunks.append(str(path.readlink()).encode())
        elif path.is_file():
            chunks.append(path.read_bytes())
    if (root / ".git").is_dir():
        objects = subprocess.run(
            ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=root, capture_output=True, check=False
        )
        chunks.append(objects.stdout)
    return b"\n".join(chunks)
