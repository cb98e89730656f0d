"""`metagpt serve` in real Chromium: start a run from the form, watch it live, stop, resume,
read the PRD and a code file, request a change and open its commit.

Chromium is the one the diagram engines drive (`make mermaid` installs it; `CHROMIUM_PATH`
names another). Screenshots of each step are kept in `tests/artifacts/web/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metagpt.config import Config
from metagpt.render.engines import CHROMIUM_ARGS, find_bundle, find_chromium
from tests.e2e.openai_server import answer, code_answer, prompt_text, realistic_reply
from tests.web.conftest import serving, slow

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (the mermaid extra) is not installed")
expect = playwright_api.expect
CHROMIUM = find_chromium(Config())
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: run `make mermaid` or set CHROMIUM_PATH")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
IDEA = "a command-line snake game"
TIMEOUT = 60_000


class Model:
    """Realistic answers, `delay` seconds late; a change adds `<package>/high_score.py`."""

    def __init__(self) -> None:
        self.delay = 0.5
        self.package = ""

    def __call__(self, body):
        name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
        if name == "ChangeRequest":
            request = {"title": "Add a high-score table", "kind": "feature", "request": "Keep the best scores.",
                       "acceptance_criteria": ["best() returns the top score"], "sections_touched": []}  # fmt: skip
            return answer(json.dumps(request))
        if name == "ChangePlan":
            planned = {"action": "create", "path": f"{self.package}/high_score.py", "new_path": "", "reason": "scores"}
            return answer(json.dumps({"files": [planned]}))
        if "high_score.py" in prompt_text(body):
            return answer(code_answer("high_score.py"))
        return slow(self.delay)(body) if self.delay else realistic_reply(body)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_run_from_the_browser(tmp_path, model):
    script = Model()
    model.handler = script
    drawn = find_bundle(Config()) is not None  # `make mermaid` installed the bundle: the run draws its diagrams
    engine = "playwright" if drawn else "none"
    with serving(tmp_path, model, MERMAID_ENGINE=engine) as serve, playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(serve.url)
            page.fill("textarea[name=idea]", IDEA)
            page.fill("input[name=investment]", "2")
            shot(page, "01-start-form")
            page.click("#start button[type=submit]")
            page.wait_for_url("**/projects/command_line_snake_game")
            # stages and calls arrive live, without a reload
            page.wait_for_selector("#stages li")
            page.locator("#calls tr").nth(1).wait_for()  # (no string evaluation: the page's CSP forbids it)
            assert page.text_content("#status") == "running"
            assert page.text_content("#stages li") == "Product Manager: WritePRD"
            shot(page, "02-live")

            listing = browser.new_page()  # the projects page, open beside it, follows the run
            listing.goto(serve.url)
            row = listing.locator('tr[data-name="command_line_snake_game"] .status')
            expect(row).to_have_text("running", timeout=TIMEOUT)

            page.click("#stop")
            expect(page.locator("#status")).to_have_text("interrupted", timeout=TIMEOUT)
            expect(row).to_have_text("interrupted", timeout=TIMEOUT)
            listing.close()
            shot(page, "03-stopped")
            calls_before = page.locator("#calls tr").count()

            script.delay = 0.0
            page.fill("#resume input[name=investment]", "3")
            page.click("#resume button[type=submit]")
            expect(page.locator("#status")).to_have_text("finished", timeout=TIMEOUT)
            page.locator('#project[data-live="done"]').wait_for()
            assert page.locator("#calls tr").count() > calls_before
            assert page.text_content("#investment") == "$3.0000"
            shot(page, "04-finished")

            page.reload()  # what the server renders agrees with what arrived live
            assert page.locator("#calls tr").count() == serve.get("/api/projects/command_line_snake_game").json[
                "calls"
            ]["count"] - _started(serve)
            page.click("#documents a >> text=docs/prd.md")
            page.wait_for_selector("article.document h1")
            assert page.locator("figure.diagram").count() >= 1  # the competitive quadrant chart
            if drawn:  # the rendered SVG, as an image (an image runs no script)
                image = page.locator("figure.diagram img").first
                image.wait_for()
                assert image.evaluate("img => img.complete && img.naturalWidth > 0")
            shot(page, "05-prd")
            page.go_back()

            code = page.locator("#files li[data-path$='.py']").first  # the tree: folders, then their files
            source_name = code.get_attribute("data-path")
            assert "/" in source_name and code.text_content() == source_name.rsplit("/", 1)[1]
            code.locator("a").click()
            page.wait_for_selector(".source .highlight")
            assert page.text_content("h1.path") == source_name
            shot(page, "06-code")
            page.go_back()

            script.package = source_name.split("/")[0]
            commits_before = page.locator("#commits li").count()
            page.fill("#change input[name=request]", "add a high-score table")
            page.click("#change button[type=submit]")
            page.locator("#commits li").nth(commits_before).wait_for()
            page.locator('#project[data-live="done"]').wait_for()
            assert page.text_content("#status") == "finished"
            shot(page, "07-changed")
            newest = page.locator("#commits li a").first
            newest.click()
            page.wait_for_selector(".source .highlight")
            assert "high_score.py" in page.text_content(".source")
            shot(page, "08-change-diff")
            assert not errors, errors  # no script error and no CSP refusal in the console
        finally:
            browser.close()


def _started(serve) -> int:
    """Calls still `started` (in flight when a run was stopped): the page lists ended calls."""
    import sqlite3

    db = serve.workspace / "command_line_snake_game/.metagpt/state.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT COUNT(*) FROM calls WHERE status = 'started'").fetchone()[0]
