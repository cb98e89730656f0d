"""Real rendering with the installed engines (`make mermaid`), and the report in headless Chromium.

Each test is skipped, with the reason, when its engine is not installed; CI installs them.
"""

from __future__ import annotations

import pytest

from metagpt.actions import PRD, SystemDesign
from metagpt.config import Config
from metagpt.render import DiagramRenderer
from metagpt.render.engines import CHROMIUM_ARGS, ENGINES, find_chromium
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
from metagpt.software_company import SoftwareCompany

EXAMPLES = {
    "competitive_analysis": PRD.model_fields["competitive_quadrant_chart"].examples[0],
    "data_api_design": SystemDesign.model_fields["data_structures_and_interfaces"].examples[0],
    "seq_flow": SystemDesign.model_fields["program_call_flow"].examples[0],
}
MAGIC = {"svg": b"<svg", "png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


def engine_config(name: str, **settings) -> Config:
    config = Config(mermaid_engine=name, **settings)
    reason = ENGINES[name].missing(config)
    if reason:
        pytest.skip(f"the {name} engine is not installed here: {reason}; `make mermaid` installs it")
    return config


@pytest.mark.parametrize("name", ["playwright", "nodejs"])
async def test_engine_renders_svg_png_pdf_in_one_session_and_reports_parse_errors(name):
    renderer = DiagramRenderer(engine_config(name, mermaid_pdf=True))
    try:
        for code in EXAMPLES.values():
            files = await renderer.render(code)
            assert set(files) == {"svg", "png", "pdf"}
            for fmt, data in files.items():
                assert data.lstrip()[: len(MAGIC[fmt])] == MAGIC[fmt], fmt
                assert len(data) > 1000
        error = await renderer.validate("classDiagram\n    class Game {{\n")
        assert error is not None and "Parse error on line" in error and "    at " not in error
        assert await renderer.validate(EXAMPLES["seq_flow"]) is None
        assert renderer.engine.name == name
    finally:
        await renderer.aclose()


async def test_company_run_renders_diagrams_and_its_report_displays_them_offline(tmp_path):
    config = engine_config("playwright", api_type="fake", workspace_path=tmp_path / "ws")
    company = SoftwareCompany(config)
    company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
    company.start_project("a command-line snake game")
    await company.run(n_round=5)
    root = company.project.path
    for stem in EXAMPLES:
        assert (root / f"resources/{stem}.svg").read_bytes().startswith(b"<svg")
        assert (root / f"resources/{stem}.png").read_bytes().startswith(MAGIC["png"])
    assert company.published.diagrams == "Diagrams: 3 rendered to .svg/.png with playwright."
    report = root / "index.html"
    assert (root / "mermaid.min.js").stat().st_size > 1_000_000

    from playwright.async_api import async_playwright

    requests: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(find_chromium(config)), args=list(CHROMIUM_ARGS))
        page = await browser.new_page()

        async def offline(route):  # the page must need nothing but files next to it
            requests.append(route.request.url)
            await (route.continue_() if route.request.url.startswith("file://") else route.abort())

        await page.route("**/*", offline)
        await page.goto(report.as_uri())
        await page.wait_for_selector("body[data-diagrams=done]", timeout=30_000)
        figures = page.locator("figure.diagram")
        assert await figures.count() == 3
        for n in range(3):
            assert await figures.nth(n).locator("pre.mermaid > svg").count() == 1
        assert await page.locator("p.error").count() == 0
        shot = tmp_path / "report.png"
        await page.screenshot(path=str(shot), full_page=True)
        await browser.close()
    assert shot.read_bytes().startswith(MAGIC["png"]) and shot.stat().st_size > 50_000
    assert all(url.startswith("file://") for url in requests)
