"""Every kind of run leaves the project's history under the one policy (`git_history.NEVER_COMMITTED`,
docs/history.md): the same `.gitignore`, the report written but never tracked, no state or log
tracked, nothing left uncommitted. A project an earlier version left with its report committed
is brought under the policy by its next run, whichever kind.

Git runs through `GitHistory.git` here (its own empty home, our identity per call), never with
the user's configuration."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from metagpt.const import LOGS_DIR, REPORT_FILE, STATE_DIR
from metagpt.context import Context
from metagpt.provider.fake import FAKE_CODE, FakeProvider, sample_from_schema
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
from metagpt.software_company import SoftwareCompany
from metagpt.utils.git_history import IGNORED, LAST_COMMIT, NEVER_COMMITTED, REPORT_FILES, GitHistory
from tests.incremental.scripted import calculator, change, change_handler

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

REPO = Path(__file__).resolve().parents[2]
GITIGNORE = "".join(f"{line}\n" for line in IGNORED)
OLD_GITIGNORE = "".join(f"{line}\n" for line in IGNORED if line != f"/{REPORT_FILE}")
"""A project's `.gitignore` as versions before the policy wrote it (they committed the report)."""
POLICY = {"gitignore": GITIGNORE, "report tracked": [], "state tracked": [], "uncommitted": ""}


def policy_of(root: Path) -> dict[str, object]:
    """What the policy governs in `root`, to compare with `POLICY`; the report must be on disk."""
    assert (root / REPORT_FILE).is_file()  # written by every run, only never committed
    history = GitHistory(root)
    tracked = history.git("ls-files", "-z").stdout.split("\0")
    return {
        "gitignore": (root / ".gitignore").read_text(),
        "report tracked": [path for path in tracked if path in REPORT_FILES],
        "state tracked": [path for path in tracked if path.startswith((f"{STATE_DIR}/", f"{LOGS_DIR}/"))],
        "uncommitted": history.git("status", "--porcelain", "--untracked-files=all").stdout,
    }


def subjects(root: Path) -> list[str]:
    return GitHistory(root).log()


def files_of(root: Path, ref: str) -> list[str]:
    return sorted(GitHistory(root).git("show", "--name-only", "--format=", ref).stdout.split())


def as_an_earlier_version_left_it(root: Path) -> None:
    """Commit the report and the old `.gitignore`, as a new project's last commit did before the policy."""
    (root / ".gitignore").write_text(OLD_GITIGNORE)
    history = GitHistory(root)
    history.git("add", "-f", "--", ".gitignore", REPORT_FILE)
    history.git("commit", "-q", "--no-verify", "-m", "Diagrams and the project report")


def document(request) -> str:
    if request.output_schema is None:
        return FAKE_CODE
    schema = request.output_schema.json_schema
    return json.dumps(sample_from_schema(schema, schema.get("$defs", {})))


def model_gone(request) -> str:
    raise RuntimeError("the model went away")


def company(config, provider: FakeProvider | None = None) -> SoftwareCompany:
    team = SoftwareCompany(config, context=Context(config, provider=provider) if provider else None)
    team.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
    team.invest(3.0)
    return team


async def test_a_new_run_commits_its_stages_and_never_the_report(fake_config):
    team = company(fake_config)
    team.start_project("a command-line snake game")
    try:
        await team.run(n_round=5)
    finally:
        await team.context.aclose()

    root = team.project.path
    assert policy_of(root) == POLICY
    # no engine draws the diagrams here and the report is not history: the last stage's commit ends it
    assert subjects(root)[-1] == "Code review" and LAST_COMMIT not in subjects(root)
    assert "resources/seq_flow.mmd" in GitHistory(root).git("ls-files").stdout.split()


async def test_a_resumed_run_untracks_the_report_an_earlier_version_committed(fake_config):
    failed = company(fake_config, FakeProvider([document, model_gone]))
    failed.start_project("a command-line snake game")
    with pytest.raises(RuntimeError, match="the model went away"):
        await failed.run(n_round=5)
    await failed.context.aclose()
    root = failed.project.path
    as_an_earlier_version_left_it(root)

    resumed = SoftwareCompany.resume(root, fake_config)
    try:
        await resumed.run()
    finally:
        await resumed.context.aclose()

    root = resumed.project.path  # renamed to the design's package name, as the first run would have
    assert policy_of(root) == POLICY
    log = subjects(root)
    assert log[:3] == [
        "Product Manager: WritePRD",
        "Diagrams and the project report",  # the earlier version's
        "Resumed: files the interrupted run wrote after its last commit",
    ]
    resumed_commit = GitHistory(root).git("rev-list", "--reverse", "HEAD").stdout.split()[2]
    assert files_of(root, resumed_commit) == [".gitignore", REPORT_FILE]  # the new line; the report leaves
    assert log[-1] == "Code review"


async def test_a_change_untracks_the_report_and_keeps_the_same_policy(server, tmp_path):
    root = tmp_path / "workspace" / "calculator"
    calculator(root)
    (root / REPORT_FILE).write_text("<html>the first run's report</html>\n")
    as_an_earlier_version_left_it(root)
    server.handler = change_handler()
    company = await change(server, root, run_tests=False)

    assert policy_of(root) == POLICY
    base = company.base
    assert base is not None
    assert subjects(root)[2] == "Ignore MetaGPT's state, logs and report"
    assert files_of(root, base) == [".gitignore", REPORT_FILE]  # the new line, and the report leaving the index
    assert subjects(root)[-1] == "Change 0001 (Add subtraction): summary"  # nothing drawn, nothing left


def test_the_docs_page_is_generated_from_the_policy():
    sys.path.insert(0, str(REPO / "docs"))
    try:
        import hooks
    finally:
        sys.path.pop(0)
    table = hooks.never_committed_table().splitlines()[2:]
    assert [row.split("`")[1] for row in table] == list(NEVER_COMMITTED) == list(IGNORED)
    page = (REPO / "docs" / "history.md").read_text()
    assert "<!-- never-committed -->" in page and LAST_COMMIT in page
