"""Change requests and plans are checked against the project as it is; section edits keep other bytes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from metagpt.actions.write_prd import PRD
from metagpt.incremental.change import ChangePlan, ChangeRequest, change_request_model
from metagpt.incremental.sections import apply_section_edits, section_model, split_sections
from metagpt.provider.fake import sample_from_schema

EXISTING = {"existing": ["calculator/calc.py", "calculator/main.py", "tests/test_calc.py"]}


def plan(*files: dict) -> dict:
    return {"files": [{"new_path": "", "reason": "because", **f} for f in files]}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([{"action": "modify", "path": "calculator/ops.py"}], "calculator/ops.py does not exist, so it cannot be"),
        ([{"action": "create", "path": "calculator/calc.py"}], "exists already: plan to modify it"),
        ([{"action": "modify", "path": "tests/test_calc.py"}], "is not a code file: documents and tests"),
        ([{"action": "modify", "path": "docs/prd.md"}], "is not a code file"),
        ([{"action": "rename", "path": "calculator/calc.py"}], "needs a new_path that does not exist yet"),
        ([{"action": "modify", "path": "../etc/passwd"}], "must not contain '..'"),
        ([], "the plan names no file"),
        ([{"action": "create", "path": "calculator/ops.py", "new_path": "calculator/x.py"}], "only for a rename"),
        ([{"action": "create", "path": "calculator/ops."}], "cannot end in '.'"),
    ],
)
def test_a_plan_that_does_not_fit_the_project_is_refused_saying_why(files, message):
    with pytest.raises(ValidationError, match=message):
        ChangePlan.model_validate(plan(*files), context=EXISTING)


def test_a_plan_that_fits_lists_what_the_engineer_may_touch():
    checked = ChangePlan.model_validate(
        plan(
            {"action": "modify", "path": "./calculator/calc.py"},
            {"action": "create", "path": "calculator/more.py"},
            {"action": "rename", "path": "calculator/main.py", "new_path": "calculator/cli.py"},
        ),
        context=EXISTING,
    )
    assert checked.touched() == {"calculator/calc.py", "calculator/more.py", "calculator/main.py", "calculator/cli.py"}


def request(sections: list[dict]) -> dict:
    return {"title": "Add subtraction", "kind": "feature", "request": "r", "acceptance_criteria": ["a"],
            "sections_touched": sections}  # fmt: skip


def test_a_change_request_names_real_sections_and_never_the_original_requirement():
    context = {"sections": {"prd": ["Product Goals", "Requirement Pool"]}}
    good = ChangeRequest.model_validate(request([{"document": "prd", "section": "requirement  pool"}]), context=context)
    assert good.slug == "add-subtraction"
    with pytest.raises(
        ValidationError, match="prd has no section 'Pool'; its sections are: Product Goals, Requirement"
    ):
        ChangeRequest.model_validate(request([{"document": "prd", "section": "Pool"}]), context=context)
    with pytest.raises(ValidationError, match="'Original Requirements' stays as written"):
        ChangeRequest.model_validate(request([{"document": "prd", "section": "Original Requirements"}]))
    with pytest.raises(ValidationError, match="at least one testable acceptance criterion"):
        ChangeRequest.model_validate({**request([]), "acceptance_criteria": [" "]})


def test_section_edits_rewrite_one_section_and_keep_every_other_byte():
    schema = PRD.model_json_schema()
    prd = PRD.model_validate(sample_from_schema(schema, schema.get("$defs", {})))
    markdown = prd.to_markdown().replace("## Product Goals\n\n", "## Product Goals\n\n<!-- kept by hand -->\n")
    model = section_model(PRD, ["user_stories"])
    assert list(model.model_fields) == ["user_stories"]
    assert model.model_fields["user_stories"].description == PRD.model_fields["user_stories"].description

    changed, new = apply_section_edits(prd, markdown, {"user_stories": ["As a user, I subtract"]})

    old_sections, new_sections = dict(split_sections(markdown)), dict(split_sections(new))
    assert [t for t in old_sections if old_sections[t] != new_sections[t]] == ["User Stories"]
    assert new_sections["User Stories"] == "## User Stories\n\n- As a user, I subtract\n\n"
    assert "<!-- kept by hand -->" in new and changed.user_stories == ["As a user, I subtract"]
    assert changed.product_goals == prd.product_goals
    with pytest.raises(ValueError, match="is kept as written"):
        apply_section_edits(prd, markdown, {"original_requirements": "something else"})


def test_the_change_request_schema_names_only_the_projects_sections():
    sections = {"prd": ["Original Requirements", "Requirement Pool"], "system_design": ["File list"]}

    model = change_request_model(sections)

    ref = model.model_json_schema()["$defs"]["SectionRef"]["properties"]
    assert ref["document"]["enum"] == ["prd", "system_design"]
    assert ref["section"]["enum"] == ["File list", "Requirement Pool"]  # never 'Original Requirements'
    answer = {"title": "Pause", "kind": "feature", "request": "P pauses.", "acceptance_criteria": ["P pauses"]}
    with pytest.raises(ValidationError):
        model.model_validate({**answer, "sections_touched": [{"document": "prd", "section": "Anything"}]})
    with pytest.raises(ValidationError, match="prd has no section 'File list'"):  # the pairing is still checked
        model.model_validate(
            {**answer, "sections_touched": [{"document": "prd", "section": "File list"}]},
            context={"sections": sections},
        )
    assert isinstance(model.model_validate({**answer, "sections_touched": []}), ChangeRequest)
    assert change_request_model({}) is ChangeRequest


def test_the_file_lists_follow_a_plan_however_a_listed_file_is_spelt():
    from types import SimpleNamespace

    from metagpt.incremental.change import plan_from
    from metagpt.incremental.stages import Stages

    design = SimpleNamespace(file_list=["calculator/calc.py", "main.py"])
    tasks = SimpleNamespace(task_list=["calc.py", "calculator/main.py"])
    stages = Stages.__new__(Stages)
    stages.snapshot = SimpleNamespace(
        package="calculator", documents={"system_design": design, "api_spec_and_tasks": tasks}
    )
    saved: dict[str, dict] = {}
    stages._save_edits = lambda stem, updates: saved.setdefault(stem, updates)

    step = {"new_path": "", "reason": "r"}
    stages._follow_plan(plan_from([{"action": "create", "path": "calculator/calc.py", **step}]))
    assert saved == {}  # listed already, however spelt: nothing is rewritten

    stages._follow_plan(
        plan_from(
            [
                {"action": "rename", "path": "calculator/calc.py", "new_path": "calculator/ops.py", "reason": "r"},
                {"action": "delete", "path": "calculator/main.py", **step},
            ]
        )
    )
    assert saved == {"system_design": {"file_list": ["ops.py"]}, "api_spec_and_tasks": {"task_list": ["ops.py"]}}
