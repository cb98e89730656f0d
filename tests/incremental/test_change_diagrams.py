"""A diagram section a change edits is rendered again, as a new project's are; a failing renderer
leaves its new source and no stale picture, and the change still ends."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from metagpt.exceptions import RenderEngineError
from metagpt.incremental.company import ChangeCompany
from metagpt.render import Engine
from tests.incremental.conftest import needs_git
from tests.incremental.scripted import ADD_SUBTRACTION, SECTIONS, calculator, change, change_handler, git

pytestmark = needs_git

NEW_FLOW = (
    "sequenceDiagram\n    participant M as main\n    participant C as calc\n    M->>C: add(a, b)\n"
    "    C-->>M: sum\n    M->>C: subtract(a, b)\n    C-->>M: difference"
)
TOUCHING_THE_FLOW = {
    **ADD_SUBTRACTION,
    "sections_touched": [
        *ADD_SUBTRACTION["sections_touched"],
        {"document": "system_design", "section": "Program call flow"},
    ],
}


class Engine_(Engine):
    """Renders `{format}:{code}`, or fails every time with `broken`."""

    name = "scripted"

    def __init__(self, broken: bool = False):
        self.broken = broken
        self.rendered: list[str] = []

    @classmethod
    def missing(cls, config) -> str | None:
        return None

    async def start(self) -> None:
        return None

    async def render(self, code: str, formats: Iterable[str]) -> dict[str, bytes]:
        if self.broken:
            raise RenderEngineError("the browser crashed")
        self.rendered.append(code)
        return {fmt: f"{fmt}:{code}".encode() for fmt in formats}

    async def close(self) -> None:
        return None


async def change_with(server, root: Path, engine: Engine) -> ChangeCompany:
    server.handler = change_handler(
        TOUCHING_THE_FLOW, sections={**SECTIONS, "SystemDesignSections": {"program_call_flow": NEW_FLOW}}
    )
    return await change(server, root, run_tests=False, engines=[engine])


def stale_render(root: Path) -> None:
    """The first run's pictures of the flow, committed."""
    for fmt in ("svg", "png"):
        (root / f"resources/seq_flow.{fmt}").write_text(f"{fmt}: the old flow")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "the first run's diagrams")


async def test_an_edited_diagram_is_rendered_again_and_committed(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    calculator(root)
    stale_render(root)
    engine = Engine_()

    company = await change_with(server, root, engine)

    assert engine.rendered == [NEW_FLOW]  # the one diagram the change edited, none of the others
    assert (root / "resources/seq_flow.mmd").read_text() == NEW_FLOW + "\n"
    assert (root / "resources/seq_flow.svg").read_text() == f"svg:{NEW_FLOW}"
    assert (root / "resources/seq_flow.png").read_text() == f"png:{NEW_FLOW}"
    assert "1 rendered to .svg/.png" in company.published.diagrams
    # committed with the stage that was under way when it was drawn, at the latest with the report
    assert git(root, "ls-files", "resources/seq_flow.svg", "resources/seq_flow.png").split() == [
        "resources/seq_flow.png", "resources/seq_flow.svg"
    ]  # fmt: skip
    assert git(root, "ls-files", "index.html") == ""  # the report is not history
    assert git(root, "status", "--porcelain") == ""


async def test_a_failing_renderer_leaves_the_new_source_and_no_stale_picture(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    calculator(root)
    stale_render(root)

    company = await change_with(server, root, Engine_(broken=True))

    assert (root / "resources/seq_flow.mmd").read_text() == NEW_FLOW + "\n"
    assert not (root / "resources/seq_flow.svg").exists() and not (root / "resources/seq_flow.png").exists()
    assert company.published.diagrams  # one line saying what became of the diagram
    assert "Change 0001 (Add subtraction): summary" in git(root, "log", "--format=%s")
    assert git(root, "status", "--porcelain") == ""


async def test_a_report_an_earlier_run_committed_is_untracked_before_the_base(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    first = calculator(root, report=True)

    company = await change_with(server, root, Engine_())

    base = company.base
    assert git(root, "log", "--format=%s", f"{first}..{base}").splitlines() == [
        "Ignore MetaGPT's state, logs and report"
    ]
    assert git(root, "diff", "--name-only", first, base).split() == ["index.html"]  # deleted from the index
    changed = set(git(root, "diff", "--name-only", base, "HEAD").split())
    planned = {"calculator/calc.py", "calculator/main.py"}
    assert {p for p in changed if not p.startswith(("docs/", "resources/", "tests/"))} == planned
    assert "index.html" not in changed and (root / "index.html").is_file()  # rewritten, not history
    assert git(root, "status", "--porcelain") == ""
