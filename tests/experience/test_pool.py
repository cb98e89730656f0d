"""The pool's storage: JSON lines, dedup, the cap and its eviction order, BM25 search, redaction."""

from __future__ import annotations

import json

from metagpt.experience import Cost, Experience, ExperiencePool, model_family, step_key
from metagpt.experience.records import EXAMPLES_MARKER
from metagpt.logs import register_secret


def record(n: int, task: str = "", dollars: float = 0.01, **fields) -> Experience:
    fields.setdefault("result", f"code {n}")
    return Experience(key=f"k{n}", step="write_code", family="gpt-4o", task=task or f"Write file{n}.py",
                      cost=Cost(calls=1, dollars=dollars), **fields)  # fmt: skip


def test_records_are_json_lines_and_a_repeat_is_merged_not_duplicated(tmp_path):
    pool = ExperiencePool(tmp_path / ".experience")
    pool.add(record(1))
    pool.add(record(1).model_copy(update={"result": "code 1, again"}))
    lines = pool.path.read_text().splitlines()
    assert len(lines) == 1
    stored = Experience.model_validate(json.loads(lines[0]))
    assert stored.result == "code 1, again" and stored.confirmations == 2 and stored.cost.calls == 1


def test_a_line_cut_by_a_crash_is_skipped(tmp_path):
    pool = ExperiencePool(tmp_path / ".experience")
    pool.add(record(1))
    with open(pool.path, "a") as handle:
        handle.write('{"key": "k2", "step": "wri')
    assert [r.key for r in pool.records()] == ["k1"]
    pool.add(record(3))  # still appends after the cut line, which a rewrite then drops
    assert [r.key for r in pool.records()] == ["k1", "k3"]


def test_the_pool_stays_within_its_cap_evicting_the_least_used_then_least_valuable(tmp_path):
    pool = ExperiencePool(tmp_path / ".experience", max_entries=3)
    pool.add(record(1, dollars=0.5))
    pool.add(record(2, dollars=0.001))
    pool.add(record(3, dollars=0.01))
    pool.touch({"k2": 1})  # used once: kept although it saves the least
    for n in range(4, 12):
        pool.add(record(n, dollars=0.0001 * n))
        assert len(pool.records()) <= 3
    assert {r.key for r in pool.records()} == {"k1", "k2", "k3"}
    assert len(pool.path.read_text().splitlines()) == 3


def test_search_ranks_by_bm25_over_the_task_and_ignores_unrelated_records(tmp_path):
    pool = ExperiencePool(tmp_path / ".experience")
    pool.add(record(1, task="Write snake.py for a snake game with a board"))
    pool.add(record(2, task="Write calc.py: add and subtract numbers"))
    pool.add(record(3, task="Write game.py for a tetris game"))
    assert [r.key for r in pool.search("snake game board", k=2)] == ["k1", "k3"]
    assert pool.search("weather forecast") == []


def test_the_key_depends_on_inputs_and_model_family_but_not_on_examples_shown():
    messages = [{"role": "system", "content": "You are an engineer"}, {"role": "user", "content": "write a.py"}]
    shown = [messages[0], {"role": "user", "content": f"write a.py{EXAMPLES_MARKER}## Example ..."}]
    assert step_key("write_code", "gpt-4o", messages) == step_key("write_code", "gpt-4o", shown)
    assert step_key("write_code", "gpt-4o", messages) != step_key("write_code", "gpt-4o-mini", messages)
    changed = [messages[0], {"role": "user", "content": "write b.py"}]
    assert step_key("write_code", "gpt-4o", messages) != step_key("write_code", "gpt-4o", changed)
    assert model_family("gpt-4o-mini-2024-07-18") == model_family("openai/gpt-4o-mini") == "gpt-4o-mini"
    assert model_family("gpt-4-0613") == "gpt-4" and model_family("qwen2.5:latest") == "qwen2.5"


def test_a_canary_secret_never_reaches_the_pool(tmp_path):
    canary = "canary-7f3a9c1e55d24b60"
    register_secret(canary)
    key_shaped = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0"
    pool = ExperiencePool(tmp_path / ".experience", max_entries=2)
    pool.add(record(1, task=f"Write api.py using key {canary}", result="x", error=canary))
    pool.add(record(2).model_copy(update={"result": f"API_KEY = '{key_shaped}'\nTOKEN = '{canary}'", "fix": canary}))
    pool.replace_all([*pool.records(), record(3, task=canary, outcome=canary, source=canary)])
    pool.touch({"k3": 1})
    text = pool.path.read_text()
    assert canary not in text and key_shaped not in text
    assert "***" in text
