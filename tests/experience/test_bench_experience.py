"""`bench/experience.py` on the scripted loopback model: the table, and reuse saving exactly its calls."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.environ import settings_free_environ

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_prints_both_passes_and_reading_saves_one_call_per_reused_step(allow_model_requests, tmp_path):
    environ = settings_free_environ()
    environ["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "experience.py"), "--ideas", "2"], cwd=tmp_path,
                          env=environ, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {m[0]: m[1:] for m in re.findall(r"^\| (without reading|with reading) \| (\d+)/2 \| (\d+) \| (\d+) \|"
                                             r".*\| (\d+) \| (\d+) \|$", done.stdout, re.M)}  # fmt: skip
    passed, calls, tokens, reused, _ = map(int, rows["without reading"])
    passed_r, calls_r, tokens_r, reused_r, _ = map(int, rows["with reading"])
    assert passed == passed_r == 2 and reused == 0
    assert reused_r == 6 and calls_r == calls - reused_r and tokens_r < tokens  # 3 files an idea, no call each
