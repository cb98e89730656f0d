"""The whole company on the real embedded model (SmolLM2-135M through llama.cpp), offline."""

from __future__ import annotations

import importlib.util

import pytest

from metagpt.actions import PRD, SystemDesign, Tasks
from metagpt.config import Config
from metagpt.render.engines import PlaywrightEngine
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
from metagpt.software_company import SoftwareCompany

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the 'local' extra"),
]


async def test_company_runs_end_to_end_on_the_embedded_model(tmp_path, allow_model_requests):
    # With a diagram engine installed, mermaid's parser checks the diagrams during the run.
    engine = "none" if PlaywrightEngine.missing(Config()) else "playwright"
    # One thread: the same answers (llama.cpp's result does not depend on it) for a fifth less CPU,
    # and no slowdown when the suite's other workers share the cores.
    config = Config(
        workspace_path=tmp_path / "workspace", local_max_tokens=768, mermaid_engine=engine, local_n_threads=1
    )
    assert config.resolved_api_type == "local"  # nothing configured: the embedded model
    company = SoftwareCompany(config)
    company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
    company.invest(3.0)
    company.start_project("a command-line snake game")
    await company.run(n_round=5)

    root = company.project.path
    prd = PRD.model_validate_json((root / "docs/prd.json").read_text())
    design = SystemDesign.model_validate_json((root / "docs/system_design.json").read_text())
    tasks = Tasks.model_validate_json((root / "docs/api_spec_and_tasks.json").read_text())
    assert prd.original_requirements.strip()
    for doc in ("prd", "system_design", "api_spec_and_tasks"):
        assert (root / f"docs/{doc}.md").read_text().startswith("# ")
    for stem in ("competitive_analysis", "data_api_design", "seq_flow"):
        assert (root / f"resources/{stem}.mmd").exists()
        if engine != "none":  # the diagram grammars make even this model's diagrams parse
            assert (root / f"resources/{stem}.svg").read_bytes().startswith(b"<svg"), stem
    if engine != "none":
        assert company.published.diagrams == "Diagrams: 3 rendered to .svg/.png with playwright."
        assert (root / "index.html").is_file()
    code_files = [root / design.python_package_name / name for name in {*tasks.task_list, *design.file_list}]
    assert code_files and all(path.is_file() for path in code_files)
    assert company.cost_manager.total_cost == 0
    assert company.cost_manager.total.completion_tokens > 0
    assert set(company.cost_manager.by_role) == {"Product Manager", "Architect", "Project Manager", "Engineer"}
