"""The project report: `workspace/<project>/index.html`, one page to read what the company made.

It shows the PRD, the design and the tasks (rendered from their markdown), the three diagrams,
the file tree with the code highlighted, a QA report when there is one, and the cost table.
Diagrams are drawn in the page by the mermaid bundle copied next to it, so opening the file in a
browser works with no server and no network.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, cast

from loguru import logger

from metagpt.const import BUNDLE_FILE, DOCS_DIR, LOGS_DIR, REPORT_FILE, RESOURCES_DIR, SKELETON_NOTE
from metagpt.exceptions import MetaGPTError
from metagpt.logs import scrub
from metagpt.render.browser import INSTALL_HINT, find_bundle
from metagpt.utils.git_history import LAST_COMMIT
from metagpt.utils.safe_read import UnsafeFile, read_bytes, read_text, walk_files

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

    from metagpt.context import Context
    from metagpt.cost_manager import CostManager
    from metagpt.project_repo import ProjectRepo

DOCUMENTS = {
    "prd": "PRD",
    "system_design": "System design",
    "api_spec_and_tasks": "Tasks",
    "code_review": "Code review",
    "qa_report": "QA",
    "interpreter": "Interpreter",
    "agent": "Agent",
}
"""The SOP's documents under `docs/`, in reading order, with their titles in the page."""
MAX_CODE_BYTES = 200_000
"""Larger files are listed in the tree but not shown (and never read whole)."""
MAX_DOC_BYTES = 2 << 20
"""Largest document or diagram source read for the report."""
SKIPPED = {DOCS_DIR, RESOURCES_DIR, LOGS_DIR, REPORT_FILE, BUNDLE_FILE}
CHANGES_DIR = f"{DOCS_DIR}/changes"
"""Where each change to an existing project (`--inc`) is recorded, with its diff."""


@dataclass
class Published:
    """What the end of a run produced: the report and one line about the diagrams."""

    report: Path | None
    diagrams: str

    def lines(self) -> list[str]:
        return ([self.diagrams] if self.diagrams else []) + ([f"Report: {self.report}"] if self.report else [])


async def publish_project(context: Context, message: str = LAST_COMMIT) -> Published:
    """Wait for the run's diagrams, stop the browser, write the report and make the run's last
    commit (`message`: the rendered diagrams; the report is never committed, see
    `git_history.NEVER_COMMITTED`); never raises for any of them.

    Called by the company when a run ends (also after the budget ran out), so whatever was
    written is rendered and reported.
    """
    renderer = context.diagrams
    diagrams = await renderer.finish()
    closing = asyncio.ensure_future(renderer.aclose())  # the browser stops while the report is written
    await asyncio.sleep(0)
    try:
        project = context.project
        if project is None or not project.files:
            return Published(None, diagrams)
        try:
            report = write_report(project, context.cost_manager, context.config)
        except (MetaGPTError, OSError) as exc:  # e.g. the folder became unwritable: the run's files stay
            logger.warning(f"Could not write the project report: {exc}")
            report = None
        await project.commit(message, pictures=True)
        return Published(report, diagrams)
    finally:
        await closing


def write_report(project: ProjectRepo, cost: CostManager | None = None, config=None) -> Path:
    """Write `index.html` (and `mermaid.min.js` beside it) into the project folder."""
    root = project.path
    bundle = find_bundle(config) if config is not None else None
    if bundle is not None:
        project.write_bytes(BUNDLE_FILE, bundle.read_bytes())
    notice = (
        ""
        if bundle is not None
        else f'<p class="note">Diagrams are shown as mermaid source: the mermaid bundle was not installed '
        f"when this report was written. To draw them, {html.escape(INSTALL_HINT)}, then run again.</p>"
    )
    page = render_report(root, cost, notice)
    return project.write(REPORT_FILE, page)


def render_report(root: Path, cost: CostManager | None = None, notice: str = "") -> str:
    """The report page for the project folder `root`, with every secret we know masked.

    Generated code may have run in the folder: every file is read without following links,
    special and oversized files are skipped, and each skipped file is named in a note.
    """
    md = _markdown()
    notes: list[str] = []
    diagrams = _diagram_files(root, notes)
    sections: list[tuple[str, str, str]] = []  # (anchor, nav title, html); documents bring their own heading
    listed = []
    for path, note in walk_files(root / DOCS_DIR):
        if note:
            notes.append(f"{DOCS_DIR}/{note}")
        elif path.suffix == ".md" and len(path.parts) == 1:
            listed.append(path.name)
    known = [f"{stem}.md" for stem in DOCUMENTS]
    for name in [n for n in known if n in listed] + sorted(n for n in listed if n not in known):
        stem = name[: -len(".md")]
        text = _read(root, f"{DOCS_DIR}/{name}", MAX_DOC_BYTES, notes)
        if text is None:
            continue
        title = DOCUMENTS.get(stem, stem.replace("_", " ").capitalize())
        sections.append((f"doc-{stem}", title, md.render(text, {"diagrams": diagrams, "root": root})))
    changes = _changes_section(root, md, notes)
    if changes:
        sections.append(("changes", "Changes", f"<h1>Changes</h1>\n{changes}"))
    code = _code_section(root, notes)
    if notes:
        items = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
        notice += f'<p class="note">Not shown (links, special or oversized files):</p><ul>{items}</ul>'

    if code:
        sections.append(("code", "Code", f"<h1>Code</h1>\n{code}"))
    if cost is not None:
        sections.append(("cost", "Cost", f"<h1>Cost</h1>\n{_cost_section(cost)}"))
    nav = "\n".join(f'<a href="#{anchor}">{html.escape(title)}</a>' for anchor, title, _ in sections)
    body = "\n".join(f'<section id="{anchor}">\n{content}</section>' for anchor, _, content in sections)
    template = Template(resources.files("metagpt.templates").joinpath("report.html").read_text(encoding="utf-8"))
    page = template.substitute(
        title=html.escape(root.name),
        idea=html.escape(_idea(root)),
        nav=nav,
        notice=notice,
        sections=body,
        code_style=_code_style(),
    )
    return scrub(page)


def _changes_section(root: Path, md: MarkdownIt, notes: list[str]) -> str:
    """Each change (`docs/changes/NNNN-<slug>.md`), newest first, with its diff when there is one."""
    names = sorted(
        (p.name for p, note in walk_files(root / CHANGES_DIR) if not note and p.suffix == ".md" and len(p.parts) == 1),
        reverse=True,
    )
    blocks = []
    for name in names:
        text = _read(root, f"{CHANGES_DIR}/{name}", MAX_DOC_BYTES, notes)
        if text is None:
            continue
        body = md.render(text.replace("\n# ", "\n### ").replace("# ", "## ", 1))
        stem = name[: -len(".md")]
        if os.path.isfile(root / CHANGES_DIR / f"{stem}.diff"):
            diff = _read(root, f"{CHANGES_DIR}/{stem}.diff", MAX_DOC_BYTES, notes)
            body += f"<details><summary>Diff</summary>{highlight_code(diff, language='diff')}</details>" if diff else ""
        blocks.append(f'<article class="change" id="change-{html.escape(stem)}">{body}</article>')
    return "\n".join(blocks)


def _read(root: Path, relative: str, limit: int, notes: list[str]) -> str | None:
    """The text of a project file read safely, or None with a note saying why it was skipped."""
    try:
        return read_text(root, relative, limit)
    except UnsafeFile as error:
        if str(error) not in notes:
            notes.append(str(error))
        logger.warning(f"report: {error}")
        return None


def _idea(root: Path) -> str:
    try:
        return str(json.loads(read_bytes(root, f"{DOCS_DIR}/prd.json", MAX_DOC_BYTES))["original_requirements"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def _diagram_files(root: Path, notes: list[str]) -> dict[str, str]:
    """Diagram source (stripped) -> resource stem, to link each diagram to its rendered files."""
    found: dict[str, str] = {}
    for path, note in walk_files(root / RESOURCES_DIR):
        if note or path.suffix != ".mmd" or len(path.parts) != 1:
            continue
        text = _read(root, f"{RESOURCES_DIR}/{path.name}", MAX_DOC_BYTES, notes)
        if text is not None:
            found[text.strip()] = path.stem
    return found


def _markdown() -> MarkdownIt:
    """CommonMark with tables; raw HTML from the model is shown as text, never run."""
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    default_fence = cast(RendererHTML, md.renderer).rules["fence"]  # MarkdownIt's default renderer

    def fence(renderer, tokens, idx, options, env) -> str:
        token = tokens[idx]
        language = token.info.strip().split(" ")[0].lower()
        if language == "mermaid":
            return _diagram(token.content.strip(), env.get("diagrams", {}), env.get("root"))
        if language:
            return highlight_code(token.content, language=language)
        return default_fence(tokens, idx, options, env)

    md.add_render_rule("fence", fence)
    return md


def _diagram(code: str, stems: dict[str, str], root: Path | None) -> str:
    stem = stems.get(code)
    links = ""
    if stem is not None and root is not None:
        files = [f"{RESOURCES_DIR}/{stem}.{ext}" for ext in ("mmd", "svg", "png", "pdf")]
        links = " · ".join(
            f'<a href="{html.escape(name)}">{html.escape(Path(name).suffix[1:].upper())}</a>'
            for name in files
            if os.path.isfile(root / name) and not os.path.islink(root / name)
        )
    anchor = f' id="diagram-{html.escape(stem)}"' if stem else ""
    caption = f"<figcaption>{html.escape(stem)}: {links}</figcaption>" if stem else ""
    return f'<figure class="diagram"{anchor}><pre class="mermaid">{html.escape(code)}</pre>{caption}</figure>\n'


def highlight_code(code: str, filename: str | None = None, language: str | None = None) -> str:
    """Pygments HTML of `code` (which escapes every character it is given), by file name or language."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import TextLexer, get_lexer_by_name, get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:  # by the name's pattern (the code breaks ties): no import of every lexer to guess from the text
        lexer = get_lexer_for_filename(filename, code) if filename else get_lexer_by_name(language or "text")
    except ClassNotFound:
        lexer = TextLexer()
    return highlight(code, lexer, HtmlFormatter(cssclass="highlight"))


def _code_style() -> str:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(cssclass="highlight").get_style_defs(".highlight")


def _code_files(root: Path, notes: list[str]) -> list[Path]:
    """The project's own files (code, requirements), without docs, diagrams, logs or the report.

    Links and special files are never followed or opened: they get a note instead.
    """
    files = []
    for relative, note in walk_files(root, frozenset(SKIPPED)):
        if "__pycache__" in relative.parts:
            continue
        if note:
            notes.append(note)
            continue
        files.append(Path(relative))
    return files


def _code_section(root: Path, notes: list[str]) -> str:
    files = _code_files(root, notes)
    if not files:
        return ""
    anchors = {path: f"file-{n}" for n, path in enumerate(files, 1)}
    tree: dict = {}
    for path in files:
        node = tree
        for part in path.parts[:-1]:
            node = node.setdefault(part + "/", {})
        node[path.name] = path
    blocks = []
    for path in files:
        try:
            data = read_bytes(root, path.as_posix(), MAX_CODE_BYTES)
        except UnsafeFile as error:
            data, body = None, f"<p>{html.escape(str(error))}</p>"
        if data is None:
            pass
        elif not data.strip():
            body = "<p>(empty)</p>"
        else:
            body = highlight_code(data.decode("utf-8", errors="replace"), filename=path.name)
        name = html.escape(path.as_posix())
        if data is not None and SKELETON_NOTE in data.decode("utf-8", errors="replace")[:400]:
            name += " <strong>(written from the design, not by the model)</strong>"
        blocks.append(f'<details class="file" id="{anchors[path]}" open><summary>{name}</summary>{body}</details>')
    return f'<ul class="tree">{_tree_items(tree, anchors)}</ul>\n' + "\n".join(blocks)


def _tree_items(node: dict, anchors: dict[Path, str]) -> str:
    items = []
    for name, child in node.items():
        if isinstance(child, dict):
            items.append(f"<li>{html.escape(name)}<ul>{_tree_items(child, anchors)}</ul></li>")
        else:
            items.append(f'<li><a href="#{anchors[child]}">{html.escape(name)}</a></li>')
    return "".join(items)


def _cost_section(cost: CostManager) -> str:
    def table(title: str, records: dict) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{r.calls}</td><td>{r.prompt_tokens:,}</td>"
            f"<td>{r.completion_tokens:,}</td><td>${r.cost:.4f}</td></tr>"
            for name, r in records.items()
        )
        total = cost.total
        return (
            f"<table><thead><tr><th>{title}</th><th>calls</th><th>prompt tokens</th><th>completion tokens</th>"
            f"<th>cost</th></tr></thead><tbody>{rows}</tbody><tfoot><tr><th>total</th><th>{total.calls}</th>"
            f"<th>{total.prompt_tokens:,}</th><th>{total.completion_tokens:,}</th><th>${total.cost:.4f}</th>"
            "</tr></tfoot></table>"
        )

    budget = f"<p>Spent ${cost.total_cost:.4f} of a ${cost.max_budget:.2f} investment.</p>"
    return budget + table("role", dict(cost.by_role)) + table("model", dict(cost.by_model))
