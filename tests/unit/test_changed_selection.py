"""`make test-fast` picks the unit tests of the changed layers (tests/changed.py)."""

from __future__ import annotations

from tests.changed import module_name, selected


def test_a_module_name_is_its_dotted_path():
    assert module_name("metagpt/provider/base.py") == "metagpt.provider.base"
    assert module_name("metagpt/render/__init__.py") == "metagpt.render"
    assert module_name("README.md") is None


def test_a_changed_module_selects_the_unit_tests_that_import_it_and_its_layer_folder():
    module = "metagpt/render/" + "engines.py"  # this file must not name the module itself
    chosen = selected([module])
    assert "tests/render" in chosen and "tests/unit/test_render.py" in chosen
    assert all(path == "tests/render" or path.startswith("tests/unit/") for path in chosen)
    assert "tests/unit/test_config.py" not in chosen  # it does not import the module


def test_changed_tests_run_and_nothing_changed_runs_the_unit_tests():
    assert "tests/unit/test_changed_selection.py" in selected(["tests/unit/test_changed_selection.py"])
    assert selected([]) == ["tests/unit"]
    assert selected(["README.md"]) == ["tests/unit"]
