"""The README and the documentation site stay true: short README, links that resolve, every
setting documented in the generated reference."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _hooks():
    sys.path.insert(0, str(REPO / "docs"))
    try:
        import hooks
    finally:
        sys.path.pop(0)
    return hooks


def test_the_readme_is_short_and_links_the_docs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")

    assert len(readme.splitlines()) <= 300
    assert "make run" in readme and "make test" in readme
    assert "docs/index.md" in readme


def test_every_relative_link_of_the_readme_and_the_docs_resolves():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")

    assert not broken


def test_every_page_is_in_the_site_navigation():
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {path.name for path in (REPO / "docs").glob("*.md")}

    assert {page for page in pages if page not in nav} == set()


def test_the_settings_reference_has_a_row_with_a_meaning_for_every_setting():
    from metagpt.configs.settings import Config

    table = _hooks().settings_table().splitlines()[2:]

    assert len(table) == len(Config.model_fields)
    assert all(not row.endswith("|  |") for row in table), [row for row in table if row.endswith("|  |")]
    assert any(row.startswith("| `MAX_TOKENS` | `4096` | > 0, ≤ 1048576 |") for row in table)


def test_the_commands_reference_is_every_command_s_own_help():
    from metagpt.cli import SUBCOMMANDS

    text = _hooks().commands_help()

    for name in SUBCOMMANDS:
        assert f"### `metagpt {name}`" in text
    assert "--investment" in text and "metagpt logs show" in text
