"""The goal check (`--check`): a command that must exit 0, or a file that must contain a text.

    --check "pytest -q"                  run in the project folder, in the sandbox
    --check "file:answer.txt:42"         answer.txt (in the project folder) must contain "42"

The run counts as finished only when the check passes; a failed check is shown to the agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from metagpt.exceptions import UserError
from metagpt.roles.di.agent.commands import ToolFailure
from metagpt.sandbox import SandboxMode
from metagpt.utils.paths import safe_relative_path
from metagpt.utils.safe_read import UnsafeFile, read_text

FILE_PREFIX = "file:"


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    output: str

    def record(self, spec: str) -> dict:
        return {"check": spec, "passed": self.passed, "output": self.output}


@dataclass(frozen=True)
class GoalCheck:
    """A parsed `--check`."""

    spec: str
    path: str = ""
    """For a file check: the file that must contain `text`."""
    text: str = ""

    @classmethod
    def parse(cls, spec: str) -> GoalCheck:
        """Raises `UserError` for an empty check or a file check without a path and a text."""
        if not spec.strip():
            raise UserError('--check is empty: give a command (--check "pytest -q") or "file:PATH:TEXT".')
        if spec.startswith(FILE_PREFIX):
            path, sep, text = spec[len(FILE_PREFIX) :].partition(":")
            if not sep or not path.strip() or not text:
                raise UserError(f'--check {spec!r}: write a file check as "file:PATH:TEXT", e.g. "file:out.txt:42".')
            try:
                path = safe_relative_path(path)
            except ValueError as exc:
                raise UserError(f"--check {spec!r}: {exc}.") from None
            return cls(spec, path, text)
        return cls(spec)

    async def run(
        self, workdir: Path, timeout: float, mode: SandboxMode = "auto", network: bool = False
    ) -> CheckResult:
        if self.path:
            try:
                content = read_text(Path(workdir), self.path)
            except UnsafeFile as exc:
                return CheckResult(False, f"{exc}")
            if self.text in content:
                return CheckResult(True, f"{self.path} contains {self.text!r}")
            return CheckResult(False, f"{self.path} does not contain {self.text!r}")
        from metagpt.roles.di.agent.terminal import Terminal

        try:
            return CheckResult(True, await Terminal(workdir, timeout, mode, network).run(self.spec))
        except ToolFailure as exc:
            return CheckResult(False, str(exc))
