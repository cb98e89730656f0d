"""The budget against servers that bill as much as they plausibly may, concurrently, and for cut answers.

Each server keeps its own bill: what it charges for every request it receives, answered or cut
off, at gpt-4o prices. The invariant: the bill never exceeds the investment, and the CLI's
`Spent` (and the journal's total) is the bill, exactly where the server reported usage, and at
least the bill where it cut its answer off (the client then charges the worst case).
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from metagpt.cost_manager import TOKEN_PRICES
from metagpt.utils.token_counter import count_message_tokens
from tests.e2e.openai_server import OpenAIServer, Reply, realistic_reply
from tests.robustness import hostile
from tests.robustness.conftest import IDEA, invoke

MODEL = "gpt-4o"
PRICE = TOKEN_PRICES[MODEL]


class Biller:
    """Answers realistically (or cuts off), reporting padded usage, and adds up what it bills."""

    def __init__(self, prompt_factor: float = 1.24, latency: float = 0.0, cut: bool = False):
        self.prompt_factor, self.latency, self.cut = prompt_factor, latency, cut
        self.lock = threading.Lock()
        self.bill = 0.0
        self.requests = 0

    def usage(self, body) -> dict[str, int]:
        prompt = int(count_message_tokens(body["messages"], MODEL) * self.prompt_factor)
        return {"prompt_tokens": prompt, "completion_tokens": body["max_tokens"]}

    def __call__(self, body) -> Reply:
        time.sleep(self.latency)
        usage = self.usage(body)
        with self.lock:
            self.requests += 1
            self.bill += (usage["prompt_tokens"] * PRICE.prompt + usage["completion_tokens"] * PRICE.completion) / 1e6
        if self.cut:
            return hostile.cut_body()
        reply = realistic_reply(body)
        reply.usage = {**usage, "total_tokens": sum(usage.values())}
        return reply


def spent(output: str) -> float:
    match = re.search(r"Spent \$(\d+\.\d+) of", output)
    assert match, output[-2000:]
    return float(match.group(1))


def journal_total(cwd: Path) -> float:
    import sqlite3

    [db] = (cwd / "workspace").glob("*/.metagpt/state.db")
    query = "SELECT COALESCE(SUM(cost), 0) FROM calls WHERE status != 'replayed'"
    return sqlite3.connect(db).execute(query).fetchone()[0]


def serve(biller: Biller, tmp_path: Path, *args: str, **env: str):
    with OpenAIServer(biller) as server:
        return invoke(server, tmp_path / "workspace", IDEA, *args, OPENAI_API_MODEL=MODEL, MERMAID_ENGINE="none", **env)


@pytest.mark.parametrize("investment", [0.0564, 0.03])
def test_padded_usage_at_max_tokens_one_file_at_a_time(allow_model_requests, tmp_path, investment):
    biller = Biller(prompt_factor=1.24)
    result = serve(biller, tmp_path, "--investment", str(investment), ENGINEER_CONCURRENCY="1", MAX_TOKENS="1000")

    assert result.exit_code == 3, result.output[-2000:]
    assert biller.bill <= investment
    assert journal_total(tmp_path) == pytest.approx(biller.bill, rel=1e-9)
    assert spent(result.output) == round(biller.bill, 4)


def test_concurrent_files_in_flight_when_the_budget_stops_are_charged(allow_model_requests, tmp_path):
    biller = Biller(prompt_factor=1.0, latency=0.3)
    result = serve(
        biller, tmp_path, "--investment", "0.0936", "--no-code-review", ENGINEER_CONCURRENCY="3", MAX_TOKENS="2500"
    )

    assert result.exit_code == 3, result.output[-2000:]
    assert biller.bill <= 0.0936
    assert journal_total(tmp_path) == pytest.approx(biller.bill, rel=1e-9)
    assert spent(result.output) == round(biller.bill, 4)


def test_cut_answers_are_charged_at_their_worst_case_each_attempt(allow_model_requests, tmp_path):
    biller = Biller(prompt_factor=1.24, cut=True)
    result = serve(biller, tmp_path, "--investment", "0.03", MAX_TOKENS="100")

    assert result.exit_code in (3, 4), result.output[-2000:]
    assert biller.requests >= 2
    assert biller.bill <= 0.03
    assert biller.bill <= journal_total(tmp_path) <= 0.03
    assert spent(result.output) >= round(biller.bill, 4)
    assert json.dumps(result.output).count("the connection closed before the answer was complete") >= 1
