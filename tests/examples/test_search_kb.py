"""examples/search_kb.py as a user runs it, on the fake model and fake embedding (API_TYPE: fake)."""

from __future__ import annotations

import shutil

from metagpt.const import DATA_PATH
from tests.examples.test_examples import run_example


def test_search_kb_answers_each_question_and_caches_the_index(tmp_path):
    document = shutil.copy(DATA_PATH / "example.pdf", tmp_path / "catalogue.pdf")

    done = run_example(
        "search_kb.py", str(document), "Which cleanser suits oily skin?", "Do you sell L'Oreal?", cwd=tmp_path
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("User: ")] == [
        "User: Which cleanser suits oily skin?",
        "User: Do you sell L'Oreal?",
    ]
    # the fake model, asked for a grounded answer, gives none: the role says so instead of inventing
    assert (
        lines.count("Sales: Sorry, I could not find the answer to that in catalogue.pdf, so I would rather not guess.")
        == 2
    )
    assert (tmp_path / "catalogue.pdf.index").is_file() and (tmp_path / "catalogue.pdf.chunks.json").is_file()
