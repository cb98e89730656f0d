"""Diagram rendering without a browser: engine choice, fallbacks, retries, repair and the run's summary."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
from collections.abc import Iterable
from functools import partial
from pathlib import Path

import pytest

import metagpt.render.browser as browser
import metagpt.render.engines as engines
import metagpt.render.service as service
from metagpt.actions import PRD
from metagpt.actions.diagram_repair import ERROR_NOTE, check_diagrams
from metagpt.config import Config
from metagpt.context import Context
from metagpt.exceptions import MermaidSyntaxError, RenderEngineError
from metagpt.llm import LLM
from metagpt.project_repo import ProjectRepo
from metagpt.provider.fake import FakeProvider, sample_from_schema
from metagpt.render import DiagramRenderer, Engine
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
from metagpt.software_company import SoftwareCompany


class FakeEngine(Engine):
    """Renders `{format}:{code}`; code starting with `bad` does not parse; can fail to start or crash."""

    def __init__(self, name: str = "fake", start_error: str | None = None, crashes: int = 0):
        self.name = name
        self.start_error = start_error
        self.crashes = crashes
        self.starts = 0
        self.rendered: list[str] = []
        self.closed = 0

    @classmethod
    def missing(cls, config: Config) -> str | None:
        return None

    async def start(self) -> None:
        self.starts += 1
        if self.start_error:
            raise RenderEngineError(self.start_error)

    async def render(self, code: str, formats: Iterable[str]) -> dict[str, bytes]:
        if self.crashes:
            self.crashes -= 1
            raise RenderEngineError("the browser crashed")
        if code.startswith("bad"):
            raise MermaidSyntaxError(f"Parse error on line 1:\n{code}\n^")
        self.rendered.append(code)
        return {fmt: f"{fmt}:{code}".encode() for fmt in formats}

    async def close(self) -> None:
        self.closed += 1


def use_engines(monkeypatch: pytest.MonkeyPatch, *fakes: FakeEngine) -> None:
    monkeypatch.setattr(service, "candidates", lambda config: (list(fakes), []))


# -- choosing an engine -------------------------------------------------------------------------


def test_engine_none_renders_nothing():
    assert engines.candidates(Config(mermaid_engine="none")) == ([], [])


def test_auto_tries_playwright_then_nodejs_and_says_what_each_lacks(monkeypatch, tmp_path):
    monkeypatch.setattr(engines, "AUTO_ORDER", ("playwright", "nodejs"))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(browser, "SOURCE_ROOT", tmp_path)
    found, reasons = engines.candidates(Config())
    assert found == []
    assert len(reasons) == 2
    assert reasons[0].startswith("playwright: ")
    assert reasons[1] == "nodejs: Node.js (`node`) is not on PATH"


def test_chromium_path_and_mmdc_settings_are_used(tmp_path):
    browser = tmp_path / "my-chromium"
    browser.write_text("")
    modules = tmp_path / "tools" / "node_modules"
    cli = modules / "@mermaid-js" / "mermaid-cli"
    for path in (modules / engines.MERMAID_BUNDLE, cli / "package.json", cli / "src" / "cli.js"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    (modules / ".bin").mkdir()
    (modules / ".bin" / "mmdc").symlink_to(cli / "src" / "cli.js")  # as npm links it
    config = Config(chromium_path=browser, mmdc=modules / ".bin" / "mmdc")
    assert engines.find_chromium(config) == browser
    assert engines.find_bundle(config) == modules / engines.MERMAID_BUNDLE
    assert engines.find_package(config, engines.MERMAID_CLI) == cli / "package.json"
    assert engines.find_chromium(Config(chromium_path=tmp_path / "absent")) is None
    node = engines.NodeEngine.from_config(config)
    assert (node.node_modules, node.chromium) == (modules, browser)
    options = node.launch_options(tmp_path / "profile")
    assert options["executablePath"] == str(browser)
    assert "--disable-background-networking" in options["args"]
    assert options["userDataDir"] == str(tmp_path / "profile")


def test_a_global_mermaid_cli_brings_its_own_mermaid(tmp_path, monkeypatch):
    cli = tmp_path / "lib" / "node_modules" / "@mermaid-js" / "mermaid-cli"
    bundle = cli / "node_modules" / engines.MERMAID_BUNDLE
    for path in (bundle, cli / "src" / "cli.js"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "mmdc").symlink_to(cli / "src" / "cli.js")
    assert engines.find_bundle(Config(mmdc=tmp_path / "bin" / "mmdc")) == bundle
    (cli / "src" / "cli.js").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert engines.find_bundle(Config(mmdc="mmdc")) == bundle  # MetaGPT's `MMDC: mmdc`, found on PATH


def test_explicit_engine_is_the_only_candidate(monkeypatch):
    monkeypatch.setattr(engines.PlaywrightEngine, "missing", classmethod(lambda cls, config: "not here"))
    found, reasons = engines.candidates(Config(mermaid_engine="playwright"))
    assert (found, reasons) == ([], ["playwright: not here"])


async def test_auto_falls_back_to_the_next_engine_that_starts(monkeypatch):
    broken, working = FakeEngine("first", start_error="cannot launch"), FakeEngine("second")
    use_engines(monkeypatch, broken, working)
    renderer = DiagramRenderer(Config())
    files = await renderer.render("classDiagram")
    assert files == {"svg": b"svg:classDiagram", "png": b"png:classDiagram"}
    assert renderer.engine is working
    assert renderer.unavailable == ["first: cannot launch"]


async def test_pdf_on_request():
    fake = FakeEngine()
    renderer = DiagramRenderer(Config(mermaid_pdf=True), engines=[fake])
    assert set(await renderer.render("sequenceDiagram")) == {"svg", "png", "pdf"}


# -- never fatal ---------------------------------------------------------------------------------


async def test_a_crash_is_retried_once_on_a_restarted_engine(tmp_path):
    fake = FakeEngine(crashes=1)
    renderer = DiagramRenderer(Config(), engines=[fake])
    project = ProjectRepo(tmp_path, "p")
    renderer.submit("seq_flow", "sequenceDiagram", partial(project.write_bytes, reserved=True))
    line = await renderer.finish()
    assert fake.starts == 2 and fake.closed == 1
    assert (project.path / "resources/seq_flow.svg").read_bytes() == b"svg:sequenceDiagram"
    assert line == "Diagrams: 1 rendered to .svg/.png with fake."


async def test_a_second_failure_is_reported_and_the_run_goes_on(tmp_path):
    renderer = DiagramRenderer(Config(), engines=[FakeEngine(crashes=5)])
    project = ProjectRepo(tmp_path, "p")
    renderer.submit("seq_flow", "sequenceDiagram", partial(project.write_bytes, reserved=True))
    line = await renderer.finish()
    assert not (project.path / "resources/seq_flow.svg").exists()
    assert line == (
        "Diagrams: 0 rendered to .svg/.png with fake; 1 not rendered (the browser crashed); "
        "see the log, or set MERMAID_ENGINE."
    )


async def test_invalid_diagrams_are_reported_not_retried(tmp_path):
    fake = FakeEngine()
    renderer = DiagramRenderer(Config(), engines=[fake])
    project = ProjectRepo(tmp_path, "p")
    renderer.submit("data_api_design", "bad classDiagram", partial(project.write_bytes, reserved=True))
    renderer.submit("seq_flow", "sequenceDiagram", partial(project.write_bytes, reserved=True))
    line = await renderer.finish()
    assert line == "Diagrams: 1 rendered to .svg/.png with fake; 1 invalid, kept as .mmd (data_api_design)."
    assert renderer.outcome.invalid["data_api_design"].startswith("Parse error on line 1")
    assert fake.starts == 1


async def test_without_an_engine_diagrams_stay_mmd_with_one_line_on_how_to_render(tmp_path):
    renderer = DiagramRenderer(Config(), engines=[])
    renderer.unavailable = ["playwright: the Python package playwright is not installed"]
    renderer.submit("seq_flow", "sequenceDiagram", partial(ProjectRepo(tmp_path, "p").write_bytes, reserved=True))
    assert await renderer.validate("bad") is None  # nothing can check it here
    line = await renderer.finish()
    assert line.startswith("Diagrams: kept as .mmd only, no renderer (playwright: the Python package playwright")
    assert line.endswith(f"To render them, {engines.INSTALL_HINT}.")
    assert DiagramRenderer(Config(mermaid_engine="none")).summary() == ""


async def test_engine_that_never_starts_is_reported(tmp_path):
    renderer = DiagramRenderer(Config(), engines=[FakeEngine("nodejs", start_error="node crashed")])
    renderer.submit("seq_flow", "sequenceDiagram", partial(ProjectRepo(tmp_path, "p").write_bytes, reserved=True))
    line = await renderer.finish()
    assert line.startswith("Diagrams: kept as .mmd only, no renderer (nodejs: node crashed). To render them, run")


# -- repair --------------------------------------------------------------------------------------


def prd_with_chart(chart: str) -> PRD:
    data = sample_from_schema(PRD.model_json_schema(), PRD.model_json_schema().get("$defs", {}))
    return PRD.model_validate({**data, "competitive_quadrant_chart": chart})


async def test_an_invalid_diagram_is_repaired_once_with_the_parser_error(fake_config):
    provider = FakeProvider(["```mermaid\nquadrantChart\n    title fixed\n```"])
    context = Context(fake_config, provider=provider)
    context.diagrams._candidates = [FakeEngine()]
    context.diagrams.start()
    prd = await check_diagrams(prd_with_chart("bad quadrant"), LLM(context, role="Product Manager"))
    assert prd.competitive_quadrant_chart == "quadrantChart\n    title fixed"
    [request] = provider.calls
    prompt = request.messages[-1]["content"]
    assert "Parse error on line 1:\nbad quadrant" in prompt and "```mermaid\nbad quadrant\n```" in prompt
    assert context.cost_manager.by_role["Product Manager"].calls == 1
    await context.aclose()


async def test_a_diagram_still_invalid_after_repair_is_kept_with_the_error_noted(fake_config):
    provider = FakeProvider(["bad again"])
    context = Context(fake_config, provider=provider)
    context.diagrams._candidates = [FakeEngine()]
    context.diagrams.start()
    prd = await check_diagrams(prd_with_chart("bad quadrant"), LLM(context))
    assert prd.competitive_quadrant_chart.startswith(f"bad quadrant\n{ERROR_NOTE}\n%% Parse error on line 1:")
    assert ERROR_NOTE in prd.to_markdown()
    assert len(provider.calls) == 1
    await context.aclose()


async def test_outside_a_company_run_diagrams_are_not_checked(fake_config):
    provider = FakeProvider([])
    prd = await check_diagrams(prd_with_chart("bad quadrant"), LLM(Context(fake_config, provider=provider)))
    assert prd.competitive_quadrant_chart == "bad quadrant"
    assert provider.calls == []


# -- in a company run ----------------------------------------------------------------------------


async def test_company_run_renders_all_three_diagrams_and_writes_the_report(monkeypatch, fake_config):
    fake = FakeEngine()
    use_engines(monkeypatch, fake)
    company = SoftwareCompany(fake_config)
    company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
    company.start_project("a command-line snake game")
    await company.run(n_round=5)

    root = company.project.path
    for stem in ("competitive_analysis", "data_api_design", "seq_flow"):
        code = (root / f"resources/{stem}.mmd").read_text().strip()
        assert (root / f"resources/{stem}.svg").read_bytes() == f"svg:{code}".encode()
        assert (root / f"resources/{stem}.png").read_bytes() == f"png:{code}".encode()
        assert root / f"resources/{stem}.png" in company.project.files
    assert company.published.lines() == [
        "Diagrams: 3 rendered to .svg/.png with fake.",
        f"Report: {root / 'index.html'}",
    ]
    assert 'id="diagram-seq_flow"' in (root / "index.html").read_text()
    assert fake.closed >= 1  # the browser lives for the run only


async def test_company_run_without_engine_keeps_mmd_and_says_how_to_render(fake_config):
    company = SoftwareCompany(fake_config)
    company.hire([ProductManager(), Architect()])
    company.start_project("a command-line snake game")
    await company.run(n_round=3)

    root: Path = company.project.path
    assert sorted(p.name for p in (root / "resources").iterdir()) == [
        "competitive_analysis.mmd",
        "data_api_design.mmd",
        "seq_flow.mmd",
    ]
    diagrams, report = company.published.lines()
    assert diagrams.startswith("Diagrams: kept as .mmd only, no renderer") and "make mermaid" in diagrams
    assert report == f"Report: {root / 'index.html'}"


def test_a_wrong_engine_name_is_a_config_error_that_lists_the_engines(tmp_path):
    from metagpt.exceptions import ConfigError

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "key.yaml").write_text("MERMAID_ENGINE: chrome\n")
    with pytest.raises(ConfigError, match=r"key.yaml: MERMAID_ENGINE: .*'auto', 'nodejs', 'playwright' or 'none'"):
        Config.load(tmp_path, env={})
    (tmp_path / "config" / "key.yaml").write_text("MERMAID_ENGINE: nodejs\nMERMAID_PDF: true\n")
    config = Config.load(tmp_path, env={})
    assert (config.mermaid_engine, config.mermaid_pdf) == ("nodejs", True)


def test_a_wrong_chromium_path_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    config = Config(chromium_path=tmp_path / "nope")
    assert engines.PlaywrightEngine.missing(config) == f"CHROMIUM_PATH {tmp_path / 'nope'} does not exist"
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/node" if name == "node" else None)
    assert engines.NodeEngine.missing(Config()) == "no Chromium on PATH (install chromium or set CHROMIUM_PATH)"


async def test_a_hung_render_does_not_hold_the_run(tmp_path, monkeypatch):
    class HangingEngine(FakeEngine):
        async def render(self, code, formats):
            await asyncio.sleep(60)
            return {}

    monkeypatch.setattr(service, "FINISH_TIMEOUT", 0.05)
    renderer = DiagramRenderer(Config(), engines=[HangingEngine()])
    renderer.submit("seq_flow", "sequenceDiagram", partial(ProjectRepo(tmp_path, "p").write_bytes, reserved=True))
    line = await renderer.finish()
    assert renderer.outcome.failed == {"seq_flow": "still rendering after 0s"}
    assert "1 not rendered (still rendering after 0s)" in line
