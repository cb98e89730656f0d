"""The whole SOP on the package's fake model: routing, documents, files on disk."""

import json

from metagpt.actions import PRD, SystemDesign, Tasks
from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
from metagpt.software_company import SoftwareCompany


async def test_company_writes_every_document_and_file(fake_config):
    company = SoftwareCompany(fake_config)
    company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
    company.invest(3.0)
    company.start_project("a command-line snake game")
    history = await company.run(n_round=5)

    root = company.project.path
    assert root.name == "cli_snake_game"  # renamed to the design's package name
    PRD.model_validate_json((root / "docs/prd.json").read_text())
    design = SystemDesign.model_validate_json((root / "docs/system_design.json").read_text())
    tasks = Tasks.model_validate_json((root / "docs/api_spec_and_tasks.json").read_text())
    for stem in ("competitive_analysis", "data_api_design", "seq_flow"):
        assert (root / f"resources/{stem}.mmd").read_text().strip()
    assert (root / "docs/prd.md").read_text().startswith("# Product Requirement Document")
    for name in set(tasks.task_list) | set(design.file_list):
        assert (root / design.python_package_name / name).read_text().startswith('"""Written by the fake model')
    assert (root / "requirements.txt").exists()
    assert [m.role for m in history] == ["Human", "Product Manager", "Architect", "Project Manager", "Engineer"]
    assert company.cost_manager.total_cost == 0
    assert set(company.cost_manager.by_role) == {"Product Manager", "Architect", "Project Manager", "Engineer"}
    assert json.loads((root / "docs/prd.json").read_text())["original_requirements"]


async def test_existing_project_folder_is_never_reused(fake_config):
    for expected in ("snake", "snake_2"):
        company = SoftwareCompany(fake_config)
        company.hire([ProductManager()])
        path = company.start_project("a snake game", project_name="snake")
        await company.run(n_round=2)
        assert path.name == expected
        assert (path / "docs/prd.md").exists()


async def test_file_names_repeating_the_package_are_written_once_inside_it(fake_config):
    from metagpt.context import Context
    from metagpt.provider.fake import FAKE_CODE, FakeProvider, sample_from_schema

    def responder(request):
        if request.output_schema is None:
            return FAKE_CODE
        schema = request.output_schema.json_schema
        document = sample_from_schema(schema, schema.get("$defs", {}))
        if request.output_schema.name == "SystemDesign":
            document["file_list"] = ["cli_snake_game/main.py"]
        if request.output_schema.name == "Tasks":
            document["task_list"] = ["main.py"]
        return json.dumps(document)

    company = SoftwareCompany(context=Context(fake_config, provider=FakeProvider([responder] * 5)))
    company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
    company.start_project("a command-line snake game")
    await company.run(n_round=5)

    code = sorted(p.relative_to(company.project.path).as_posix() for p in company.project.path.rglob("*.py"))
    assert code == ["cli_snake_game/main.py"]
