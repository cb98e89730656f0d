"""The test files for `make test-fast`: the unit tests of the layers changed since `main`.

A changed module selects the files of `tests/unit` that import it, and its layer's own test
folder (a change under `metagpt/render/` runs `tests/render/`). Changed test files run too.
With nothing changed, all of `tests/unit`. Prints the paths, one per line, for pytest.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER_TESTS = {
    "provider": "tests/providers",
    "render": "tests/render",
    "web": "tests/web",
    "batch": "tests/batch",
    "incremental": "tests/incremental",
    "experience": "tests/experience",
    "journal": "tests/e2e",
    "roles/di/agent": "tests/agent",
    "roles/di": "tests/interpreter",
    "sandbox": "tests/interpreter",
}
"""Package folder (the first matching prefix) -> the test folder of that layer."""


def changed_files(base: str = "main") -> list[str]:
    """Files changed since the merge base with `base`, committed or not, and new files."""

    def git(*args: str) -> list[str]:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.split() if done.returncode == 0 else []

    merge_base = git("merge-base", "HEAD", base)
    since = git("diff", "--name-only", merge_base[0]) if merge_base else []
    return sorted({*since, *git("diff", "--name-only", "HEAD"), *git("ls-files", "--others", "--exclude-standard")})


def module_name(path: str) -> str | None:
    """`metagpt/provider/base.py` -> `metagpt.provider.base`; None for a file that is not a module."""
    if not (path.startswith("metagpt/") and path.endswith(".py")):
        return None
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def selected(paths: list[str]) -> list[str]:
    """The test files and folders to run for the changed `paths`."""
    modules = [name for path in paths if (name := module_name(path))]
    tests = {path for path in paths if path.startswith("tests/") and Path(path).name.startswith("test_")}
    tests = {path for path in tests if (ROOT / path).exists()}
    for path in paths:
        inside = path.removeprefix("metagpt/")
        folder = next((tests for prefix, tests in LAYER_TESTS.items() if inside.startswith(prefix + "/")), None)
        if path.startswith("metagpt/") and folder:
            tests.add(folder)
    for test in sorted((ROOT / "tests/unit").glob("test_*.py")):
        text = test.read_text(encoding="utf-8")
        if any(module in text for module in modules):
            tests.add(test.relative_to(ROOT).as_posix())
    if not modules and not tests:
        return ["tests/unit"]
    return sorted(tests) or ["tests/unit"]


if __name__ == "__main__":
    sys.stdout.write("".join(f"{path}\n" for path in selected(changed_files(*sys.argv[1:2]))))
