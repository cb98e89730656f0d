"""The project report page, built from a project folder on disk."""

from __future__ import annotations

from metagpt.actions import PRD
from metagpt.cost_manager import CostManager
from metagpt.project_repo import ProjectRepo
from metagpt.provider.base import Usage
from metagpt.provider.fake import sample_from_schema
from metagpt.render import browser
from metagpt.report import render_report, write_report


def make_project(tmp_path) -> ProjectRepo:
    project = ProjectRepo(tmp_path, "snake")
    data = sample_from_schema(PRD.model_json_schema(), PRD.model_json_schema()["$defs"])
    data["ui_design_draft"] = "A grid <script>alert(1)</script> with a score."
    project.save_document(PRD.model_validate(data))
    project.write("snake/main.py", 'def main() -> None:\n    print("hi")\n')
    project.save_requirements(["rich==13.7.1"])
    project.write_bytes("resources/competitive_analysis.svg", b"<svg/>", reserved=True)
    return project


def test_report_shows_documents_diagrams_code_and_cost(tmp_path):
    project = make_project(tmp_path)
    cost = CostManager(max_budget=2.0)
    cost.by_role["Product Manager"].add(Usage(prompt_tokens=1200, completion_tokens=300), 0.25)
    cost.by_model["gpt-4o-mini"].add(Usage(prompt_tokens=1200, completion_tokens=300), 0.25)
    cost.total.add(Usage(prompt_tokens=1200, completion_tokens=300), 0.25)

    page = render_report(project.path, cost)

    assert "<title>snake: MetaGPT project report</title>" in page
    assert '<p class="idea">Write a command-line snake game.</p>' in page
    assert "<h1>Product Requirement Document</h1>" in page
    assert "<h2>Competitive Quadrant Chart</h2>" in page
    chart = (project.path / "resources/competitive_analysis.mmd").read_text().strip()
    assert '<figure class="diagram" id="diagram-competitive_analysis"><pre class="mermaid">quadrantChart\n' in page
    assert chart.replace("-->", "--&gt;") in page
    assert '<a href="resources/competitive_analysis.svg">SVG</a>' in page  # rendered files are linked
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert '<li>snake/<ul><li><a href="#file-2">main.py</a></li></ul></li>' in page
    assert '<span class="nb">print</span>' in page  # highlighted by pygments
    assert "<summary>requirements.txt</summary>" in page
    assert "docs/prd.json" not in page and "competitive_analysis.mmd</summary>" not in page
    assert "<td>Product Manager</td><td>1</td><td>1,200</td><td>300</td><td>$0.2500</td>" in page
    assert "<td>gpt-4o-mini</td>" in page
    assert "Spent $0.2500 of a $2.00 investment." in page
    assert '<script src="mermaid.min.js"></script>' in page


def test_write_report_copies_the_local_mermaid_bundle(tmp_path, monkeypatch):
    project = make_project(tmp_path / "ws")
    modules = tmp_path / "node_modules"
    (modules / browser.MERMAID_BUNDLE).parent.mkdir(parents=True)
    (modules / browser.MERMAID_BUNDLE).write_text("window.mermaid = {};")
    monkeypatch.setattr(browser, "SOURCE_ROOT", tmp_path)

    from metagpt.config import Config

    path = write_report(project, config=Config())
    assert path == project.path / "index.html" and path in project.files
    assert (project.path / "mermaid.min.js").read_text() == "window.mermaid = {};"
    assert "mermaid bundle was not installed" not in path.read_text()


def test_without_the_bundle_the_report_says_how_to_draw_diagrams(tmp_path, monkeypatch):
    project = make_project(tmp_path / "ws")
    monkeypatch.setattr(browser, "SOURCE_ROOT", tmp_path)
    from metagpt.config import Config

    page = write_report(project, config=Config()).read_text()
    assert not (project.path / "mermaid.min.js").exists()
    assert "the mermaid bundle was not installed when this report was written" in page
    assert "make mermaid" in page
