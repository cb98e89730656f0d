"""QA's step: run the generated project's tests, apart from us, and say who should fix what.

Who fixes what is decided from pytest's tracebacks, not by asking a model: the deepest frame in
a project code file names the file at fault (the Engineer fixes it); a failed assertion in a test
with no such frame points at the module under test; any other error inside a test file is the
test's own bug (QA fixes it). A module that is not installed cannot be fixed by either.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path, PurePosixPath

from pydantic import BaseModel

from metagpt.actions.action import Action
from metagpt.utils.code_plan import module_name
from metagpt.utils.sandbox import Limits, run_untrusted

_FRAME = re.compile(r'(?:^|File ")([^\s":]+\.py)(?::|", line )(\d+)', re.MULTILINE)
_MISSING = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")
OUTPUT_LIMIT = 6000


class TestOutcome(BaseModel):
    """One run of the project's tests."""

    __test__ = False  # not a pytest test class

    round: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    ok: bool = False
    summary: str = ""
    """One line: counts, or why the tests could not run."""
    output: str = ""
    """pytest's output, truncated."""
    file_to_fix: str = ""
    """Project-relative path of the file at fault; empty when none is."""
    send_to: str = ""
    """`Engineer`, `QaEngineer`, or empty (passed, or nobody can fix it)."""
    reason: str = ""


def attribute(failures: list[str], code_files: list[str], test_files: list[str], root: Path) -> tuple[str, str, str]:
    """(file to fix, who fixes it, why) for the first failure that can be pinned on a file."""
    ours = {module_name(f) for f in code_files} | {PurePosixPath(f).parts[0] for f in code_files}
    for text in failures:
        missing = _MISSING.search(text)
        if missing and missing.group(1).split(".")[0] not in ours:
            return "", "", f"module {missing.group(1)!r} is not installed: install the project's requirements.txt"
        frames = [_relative(path, root) for path, _ in _FRAME.findall(text)]
        in_code = [f for f in frames if f in code_files]
        if in_code:
            return in_code[-1], "Engineer", "the traceback ends in this file"
        test = next((f for f in reversed(frames) if f in test_files), "")
        if test and ("AssertionError" in text or "\nE   assert " in text or text.startswith("assert")):
            target = _tested_file(test, code_files)
            if target:
                return target, "Engineer", f"{test} asserts behaviour this file does not have"
        if test:
            return test, "QaEngineer", "the error is in the test itself"
    return "", "", "no failure could be traced to a project file"


def _relative(path: str, root: Path) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return path
    return PurePosixPath(path).as_posix()


def _tested_file(test_file: str, code_files: list[str]) -> str:
    stem = module_name(test_file).removeprefix("test_")
    return next((f for f in code_files if module_name(f) == stem), "")


def read_junit(path: Path) -> tuple[int, int, int, list[str]]:
    """(passed, failed, errors, failure texts) from pytest's JUnit XML report."""
    tree = ElementTree.parse(path)
    tests = failed = errors = skipped = 0
    texts: list[str] = []
    for suite in tree.iter("testsuite"):
        tests += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    for case in tree.iter("testcase"):
        for problem in [*case.iter("failure"), *case.iter("error")]:
            texts.append(f"{problem.get('message') or ''}\n{problem.text or ''}")
    return tests - failed - errors - skipped, failed, errors, texts


class RunCode(Action):
    """Run `pytest tests/` in the project folder with limits, and judge the outcome."""

    async def run(
        self, root: Path, package: str, code_files: list[str], test_files: list[str], limits: Limits
    ) -> TestOutcome:
        with tempfile.TemporaryDirectory(prefix="metagpt-qa-") as scratch:
            report = Path(scratch) / "report.xml"
            command = [
                sys.executable, "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider",
                "-c", os.devnull, "--rootdir", str(root), f"--junitxml={report}",
                "-o", f"faulthandler_timeout={max(1, int(limits.timeout * 0.8))}", "tests",
            ]  # fmt: skip
            pythonpath = os.pathsep.join([str(root), str(root / package)])
            result = await run_untrusted(command, cwd=root, limits=limits, env={"PYTHONPATH": pythonpath})
            output = (result.stdout + "\n" + result.stderr).strip()[-OUTPUT_LIMIT:]
            if report.exists() and not result.timed_out:
                passed, failed, errors, failures = read_junit(report)
            else:
                passed, failed, errors, failures = 0, 0, 1, [output]
        ok = result.ok and failed == errors == 0 and passed > 0
        if ok:
            return TestOutcome(passed=passed, ok=True, summary=f"{passed} passed", output=output)
        file, who, why = attribute(failures, code_files, test_files, root)
        if result.timed_out:
            why = f"the tests did not finish ({result.describe()}); {why}"
        counts = f"{passed} passed, {failed} failed, {errors} errors" if not result.timed_out else result.describe()
        if passed == failed == errors == 0 and not result.timed_out:
            counts = f"no tests ran ({result.describe()})"
        return TestOutcome(
            passed=passed, failed=failed, errors=errors, summary=counts, output=output,
            file_to_fix=file, send_to=who, reason=why,
        )  # fmt: skip
