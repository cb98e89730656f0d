"""The pool's storage: JSON lines, dedup, the cap and its eviction order, BM25 search, redaction, MACs."""

from __future__ import annotations

import json
import stat

import pytest

from metagpt.exceptions import UserError
from metagpt.experience import Cost, Experience, ExperiencePool, model_family, step_key
from metagpt.experience.records import EXAMPLES_MARKER
from metagpt.experience.trust import Signer, skipped_line
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


def test_every_field_is_under_the_mac_and_a_changed_record_is_skipped_and_counted(tmp_path):
    pool = ExperiencePool(tmp_path / ".experience")
    pool.add(record(1, error="e", fix="f", outcome="QA 1 passed", source="p1 run r"))
    (stored,) = pool.records()
    assert pool.signer.verify(stored) and len(stored.mac) == 64
    changes = {"key": "k9", "kind": "lesson", "step": "di_task", "family": "gpt-4", "task": "Write evil.py",
               "result": "import os", "error": "x", "fix": "x", "outcome": "QA 9 passed", "source": "elsewhere",
               "cost": Cost(calls=9), "created": 1.0, "last_used": 2.0, "uses": 7, "confirmations": 9}  # fmt: skip
    assert set(changes) == set(Experience.model_fields) - {"mac"}
    for field, value in changes.items():
        assert not pool.signer.verify(stored.model_copy(update={field: value})), field
    line = json.loads(pool.path.read_text())
    line["result"] = "import os"
    pool.path.write_text(json.dumps(line) + "\n")
    assert pool.records() == [] and (pool.skipped, pool.unsigned) == (1, 0)


def test_records_from_before_signing_are_skipped_counted_and_hinted(tmp_path):
    pool = ExperiencePool(tmp_path / ".experience")
    pool.folder.mkdir()
    pool.path.write_text(record(1).model_dump_json(exclude={"mac"}) + "\n")
    assert pool.records() == [] and (pool.skipped, pool.unsigned) == (1, 1)
    line = skipped_line(pool.skipped, pool.unsigned, str(pool.path))
    assert line.startswith("1 record(s) of") and "1 unsigned (from before records were signed)" in line
    assert "run those ideas again with --run-tests --experience" in line and "\n" not in line
    pool.add(record(2))  # the next write keeps only what is signed
    assert [r.key for r in pool.records()] == ["k2"] and pool.skipped == 0


def test_the_key_is_made_once_in_the_users_data_folder_0600_and_another_key_rejects(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    signer = Signer()
    assert not signer.verify(record(1).model_copy(update={"mac": "0" * 64}))  # no key yet: none is made
    assert not (tmp_path / "data").exists()
    one = record(1)
    signed = signer.sign(one)
    key = tmp_path / "data" / "metagpt" / "experience.key"
    assert signer.path == key and stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert Signer().verify(signed) and Signer().sign(one).mac == signed.mac  # the same key, read back
    assert not Signer(tmp_path / "other" / "experience.key").verify(signed)
    key.write_bytes(b"short")
    with pytest.raises(UserError, match=r"not an experience pool key .* remove it to make a new one"):
        Signer().sign(record(1))
