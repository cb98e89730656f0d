"""QA's step: run the generated project's tests on a scratch copy, sandboxed, and say who should fix what.

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

from pydantic import BaseModel, Field

from metagpt.actions.action import Action
from metagpt.logs import scrub
from metagpt.sandbox import Limits, SandboxMode, run_sandboxed
from metagpt.utils.code_plan import module_name
from metagpt.utils.paths import safe_relative_path
from metagpt.utils.safe_read import UnsafeFile, read_bytes

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
    strays: list[str] = Field(default_factory=list)
    """Processes the tests left running, killed when the run ended: `name (pid N)`."""
    cases: dict[str, bool] = Field(default_factory=dict)
    """Each test (`module::name`) and whether it passed, from the JUnit report."""


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


JUNIT_LIMIT = 2 << 20
"""Largest JUnit report read back (bytes); pytest's is a few kilobytes a test."""


class JunitError(ValueError):
    """The JUnit report is missing, not a regular file, too large, or not pytest's XML."""


def read_junit(data: bytes) -> tuple[int, int, int, list[str]]:
    """(passed, failed, errors, failure texts) from the bytes of pytest's JUnit XML report.

    The report was written by code under test, so it is parsed as hostile: no DOCTYPE (so no
    entities, no entity bomb), counts must be non-negative integers.

    Raises:
        JunitError: saying what is wrong with it.
    """
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise JunitError("the JUnit report declares a DOCTYPE or entities, which pytest never writes")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise JunitError(f"the JUnit report is not valid XML ({error})") from None
    tests = failed = errors = skipped = 0
    texts: list[str] = []
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if not suites:
        raise JunitError(f"the JUnit report has no <testsuite> (root element <{root.tag[:40]}>)")
    for suite in suites:
        tests += _count(suite, "tests")
        failed += _count(suite, "failures")
        errors += _count(suite, "errors")
        skipped += _count(suite, "skipped")
    for case in root.iter("testcase"):
        for problem in [*case.iter("failure"), *case.iter("error")]:
            texts.append(f"{problem.get('message') or ''}\n{problem.text or ''}")
    passed = tests - failed - errors - skipped
    if passed < 0:
        raise JunitError(
            f"the JUnit report's counts do not add up ({tests} tests, {failed + errors + skipped} not passed)"
        )
    return passed, failed, errors, texts


def junit_cases(data: bytes) -> dict[str, bool]:
    """`module::name` -> passed, for each test case of a JUnit report `read_junit` accepted."""
    cases: dict[str, bool] = {}
    for case in ElementTree.fromstring(data).iter("testcase"):
        name = f"{case.get('classname') or ''}::{case.get('name') or ''}"
        failed = any(True for tag in ("failure", "error", "skipped") for _ in case.iter(tag))
        cases[name] = not failed
    return cases


def _count(suite: ElementTree.Element, name: str) -> int:
    value = (suite.get(name) or "0").strip()
    if not value.isdigit() or len(value) > 9:
        raise JunitError(f"the JUnit report's {name}={value[:20]!r} is not a count")
    return int(value)


def _junit(scratch: Path) -> bytes:
    try:
        return read_bytes(scratch, f"work/{JUNIT_PATH}", JUNIT_LIMIT)
    except UnsafeFile as error:
        raise JunitError(f"the JUnit report was not read: {error}") from None


JUNIT_PATH = ".qa/report.xml"
"""Where pytest writes its report, inside the scratch copy."""


class RunCode(Action):
    """Run `pytest tests/` on a scratch copy of the package and tests, sandboxed, and judge the outcome."""

    async def run(
        self,
        package: str,
        code: dict[str, str],
        tests: dict[str, str],
        limits: Limits,
        mode: SandboxMode = "auto",
        network: bool = False,
    ) -> TestOutcome:
        """Copy `code` and `tests` (project-relative path -> text) into a scratch folder and test them there.

        Only these files exist in the copy (no `.git`, no `docs/`, no report), so whatever the
        tests change, the project folder is not touched; only the JUnit report and the output
        come back, read as untrusted.
        """
        code_files, test_files = list(code), list(tests)
        with tempfile.TemporaryDirectory(prefix="metagpt-qa-") as scratch_name:
            scratch = Path(scratch_name)
            work = scratch / "work"
            for relative, text in {**code, **tests}.items():
                target = work / safe_relative_path(relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "x", encoding="utf-8") as handle:
                    handle.write(text)
            (work / JUNIT_PATH).parent.mkdir(parents=True, exist_ok=True)
            command = [
                sys.executable, "-m", "pytest", "-q", "--tb=short", "-p", "no:cacheprovider",
                "-c", os.devnull, "--rootdir", str(work), f"--junitxml={work / JUNIT_PATH}",
                "-o", f"faulthandler_timeout={max(1, int(limits.timeout * 0.6))}", "tests",
            ]  # fmt: skip
            pythonpath = os.pathsep.join([str(work), str(work / package)])
            result = await run_sandboxed(command, work, limits, {"PYTHONPATH": pythonpath}, mode=mode, network=network)
            output = scrub((result.stdout + "\n" + result.stderr).strip())[-OUTPUT_LIMIT:]
            problem = ""
            cases: dict[str, bool] = {}
            if result.timed_out or result.sandbox_error:
                passed, failed, errors, failures = 0, 0, 1, [output]
            else:
                try:
                    report = _junit(scratch)
                    passed, failed, errors, failures = read_junit(report)
                    cases = junit_cases(report)
                except JunitError as error:
                    died = result.returncode is not None and result.returncode < 0
                    problem = f"{result.describe()}; {error}" if died else str(error)
                    passed, failed, errors, failures = 0, 0, 1, [output]
            failures = [scrub(text) for text in failures]
            outcome_root = work
        strays = result.strays
        ok = result.ok and failed == errors == 0 and passed > 0 and not problem
        output = stable_output(output, work)
        if ok:
            return TestOutcome(
                passed=passed, ok=True, summary=f"{passed} passed", output=output, strays=strays, cases=cases
            )
        file, who, why = attribute(failures, code_files, test_files, outcome_root)
        why = stable_output(why, work)
        if result.timed_out:
            why = f"the tests did not finish ({result.describe()}); {why}"
        counts = f"{passed} passed, {failed} failed, {errors} errors" if not result.timed_out else result.describe()
        if problem:
            counts, file, who, why = f"no result ({problem})", "", "", problem
        elif result.sandbox_error:
            counts, file, who, why = "not run", "", "", result.describe()
        elif passed == failed == errors == 0 and not result.timed_out:
            counts = f"no tests ran ({result.describe()})"
        return TestOutcome(
            passed=passed, failed=failed, errors=errors, summary=counts, output=output,
            file_to_fix=file, send_to=who, reason=why, strays=strays, cases=cases,
        )  # fmt: skip


_DURATION = re.compile(r"\b(in|took) \d+(?:\.\d+)?s\b")


def stable_output(text: str, work: Path) -> str:
    """Test output that depends only on the code and tests: the scratch folder's random path and
    pytest's timings removed, so a resumed run asks the model the very same fix prompt (and the
    journal answers it)."""
    return _DURATION.sub(r"\1 <t>s", text.replace(str(work), "<project>"))
