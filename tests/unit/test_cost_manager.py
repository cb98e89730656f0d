"""CostManager: prices, the worst-case budget rule, per-role accounting, independence."""

from __future__ import annotations

import pytest
from loguru import logger

from metagpt.config import ModelPrice
from metagpt.cost_manager import TOKEN_PRICES, CostManager
from metagpt.exceptions import NoMoneyException
from metagpt.provider.base import Usage


@pytest.fixture
def warnings_logged():
    messages: list[str] = []
    handler = logger.add(lambda m: messages.append(m.record["message"]), level="WARNING", format="{message}")
    yield messages
    logger.remove(handler)


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4", "gpt-4"),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-4-turbo-2024-04-09", "gpt-4-turbo"),
        ("gpt-4.1-mini", "gpt-4.1-mini"),
        ("o3-mini", "o3-mini"),
    ],
)
def test_price_of_model_and_dated_snapshots(model, family):
    assert CostManager().price(model) == TOKEN_PRICES[family]


def test_gpt_4o_mini_is_not_priced_as_gpt_4o():
    manager = CostManager()

    assert manager.price("gpt-4o-mini") == ModelPrice(prompt=0.15, completion=0.60)
    assert manager.price("gpt-4o") == ModelPrice(prompt=2.50, completion=10.0)


def test_prefix_without_dash_is_not_a_family_match(warnings_logged):
    """`gpt-4ox` is not a `gpt-4o` snapshot: only `name` or `name-...` match."""
    assert CostManager().price("gpt-4ox") == ModelPrice(prompt=0, completion=0)
    assert len(warnings_logged) == 1


def test_cost_of_usage():
    cost = CostManager().cost_of("gpt-4o", Usage(prompt_tokens=1000, completion_tokens=500))

    assert cost == pytest.approx((1000 * 2.5 + 500 * 10.0) / 1_000_000)


def test_override_wins_over_table_and_prices_unknown_models():
    overrides = {"gpt-4o": ModelPrice(prompt=1, completion=2), "my-model": ModelPrice(prompt=3, completion=4)}
    manager = CostManager(price_overrides=overrides)

    assert manager.price("gpt-4o") == ModelPrice(prompt=1, completion=2)
    assert manager.price("my-model") == ModelPrice(prompt=3, completion=4)
    assert manager.price("gpt-4o-2024-08-06") == TOKEN_PRICES["gpt-4o"]  # overrides match exact names only
    assert TOKEN_PRICES["gpt-4o"] == ModelPrice(prompt=2.5, completion=10.0)  # the table is untouched


def test_unknown_model_costs_nothing_and_warns_once(warnings_logged):
    manager = CostManager()

    for _ in range(3):
        assert manager.cost_of("mystery-llm", Usage(prompt_tokens=10**6, completion_tokens=10**6)) == 0
    manager.price("other-llm")

    assert len(warnings_logged) == 2
    assert "No price known for model 'mystery-llm'" in warnings_logged[0]
    assert "MODEL_PRICES" in warnings_logged[0]
    assert "'other-llm'" in warnings_logged[1]


def test_unpriced_provider_costs_nothing_without_warning(warnings_logged):
    manager = CostManager()

    assert manager.price("fake", priced=False) == ModelPrice(prompt=0, completion=0)
    assert manager.price("gpt-4", priced=False) == ModelPrice(prompt=0, completion=0)
    assert warnings_logged == []


def test_reserve_raises_when_worst_case_exceeds_what_is_left():
    manager = CostManager(max_budget=1.0)

    with pytest.raises(NoMoneyException) as info:
        manager.reserve("gpt-4o", prompt_tokens=1000, max_tokens=100_000)  # 1300 prompt tokens allowed

    assert info.value.spent == 0
    assert info.value.investment == 1.0
    assert info.value.estimate == pytest.approx((1300 * 2.5 + 100_000 * 10.0) / 1_000_000)
    assert "Raise --investment" in str(info.value)
    assert manager.remaining == 1.0  # a refused reservation holds nothing


def test_reserve_allows_exactly_what_is_left():
    manager = CostManager(max_budget=2.5)

    # 999,960 counted prompt tokens allow 999,960 + 249,990 + 50 = 1,250,000 billed: $3.125 at $2.50/1M
    manager.max_budget = 3.125
    assert manager.reserve("gpt-4o", prompt_tokens=999_960, max_tokens=0) == pytest.approx(3.125)
    assert manager.remaining == pytest.approx(0)


def test_worst_case_covers_every_usage_the_check_accepts():
    """The most a server may bill for a prompt we count as P: P + P // 4 + 50 prompt tokens and
    max_tokens of completion, or (when prompt tokens cost more) all of it as prompt."""
    manager = CostManager(price_overrides={"dear-prompt": ModelPrice(prompt=10, completion=1)})

    assert manager.worst_case("gpt-4o", 400, 1000) == pytest.approx((550 * 2.5 + 1000 * 10) / 1_000_000)
    assert manager.worst_case("dear-prompt", 400, 1000) == pytest.approx((1550 * 10) / 1_000_000)


def test_reserve_counts_what_was_already_spent():
    manager = CostManager(max_budget=1.0)
    manager.settle(0.0, "PM", "gpt-4o", Usage(prompt_tokens=0, completion_tokens=90_000))  # $0.90

    with pytest.raises(NoMoneyException) as info:
        manager.reserve("gpt-4o", prompt_tokens=0, max_tokens=20_000)  # $0.20

    assert info.value.spent == pytest.approx(0.9)
    manager.reserve("gpt-4o", prompt_tokens=0, max_tokens=9_000)  # $0.09 still fits


def test_concurrent_reservations_count_against_the_budget():
    manager = CostManager(max_budget=3.0)
    first = manager.reserve("gpt-4o", prompt_tokens=0, max_tokens=200_000)  # $2 held

    with pytest.raises(NoMoneyException):
        manager.reserve("gpt-4o", prompt_tokens=0, max_tokens=200_000)

    manager.settle(first, "Architect", "gpt-4o", Usage(prompt_tokens=0, completion_tokens=1000))  # spent $0.01
    assert manager.remaining == pytest.approx(2.99)
    manager.reserve("gpt-4o", prompt_tokens=0, max_tokens=200_000)
    assert manager.remaining == pytest.approx(0.99 - 50 * 2.5 / 1_000_000)  # 50 prompt tokens allowed for


def test_free_calls_never_exceed_the_budget():
    manager = CostManager(max_budget=1e-9)

    assert manager.reserve("fake", prompt_tokens=10**6, max_tokens=10**6, priced=False) == 0
    assert manager.reserve("unknown-model", prompt_tokens=10**6, max_tokens=10**6) == 0


def test_settle_records_per_role_and_model():
    manager = CostManager()
    reservation = manager.reserve("gpt-4o", prompt_tokens=1000, max_tokens=4096)

    cost = manager.settle(reservation, "Architect", "gpt-4o", Usage(prompt_tokens=1000, completion_tokens=500))
    manager.settle(0.0, "Architect", "gpt-4o-mini", Usage(prompt_tokens=2000, completion_tokens=1000))
    manager.settle(0.0, "", "gpt-4o-mini", Usage(prompt_tokens=1, completion_tokens=1))

    assert cost == pytest.approx(0.0075)
    assert manager.remaining == pytest.approx(3.0 - manager.total_cost)  # reservation released
    architect = manager.by_role["Architect"]
    assert (architect.calls, architect.prompt_tokens, architect.completion_tokens) == (2, 3000, 1500)
    assert architect.cost == pytest.approx(0.0075 + 0.0009)
    assert set(manager.by_role) == {"Architect", "unknown"}
    assert manager.by_model["gpt-4o"].calls == 1
    assert manager.by_model["gpt-4o-mini"].calls == 2
    assert (manager.total.calls, manager.total.prompt_tokens, manager.total.completion_tokens) == (3, 3001, 1501)


def test_settle_without_usage_releases_the_reservation_and_records_nothing():
    manager = CostManager(max_budget=3.0)
    reservation = manager.reserve("gpt-4o", prompt_tokens=0, max_tokens=100_000)

    assert manager.settle(reservation, "PM", "gpt-4o", None) == 0.0

    assert manager.remaining == 3.0
    assert manager.total.calls == 0
    assert dict(manager.by_role) == {}


def test_summary_has_total_and_one_line_per_role():
    manager = CostManager(max_budget=3.0)
    manager.settle(0.0, "Product Manager", "gpt-4o-mini", Usage(prompt_tokens=2000, completion_tokens=1000))
    manager.settle(0.0, "Architect", "gpt-4o", Usage(prompt_tokens=1000, completion_tokens=500))

    assert manager.summary() == (
        "Spent $0.0084 of $3.0000 (3000 prompt + 1500 completion tokens, 2 calls)\n"
        "  Architect: $0.0075, 1000+500 tokens, 1 calls\n"
        "  Product Manager: $0.0009, 2000+1000 tokens, 1 calls"
    )


def test_two_cost_managers_are_independent(warnings_logged):
    overrides = {"my-model": ModelPrice(prompt=1, completion=1)}
    first, second = CostManager(1.0, overrides), CostManager(1.0, overrides)

    first.settle(0.0, "PM", "gpt-4o", Usage(prompt_tokens=0, completion_tokens=50_000))
    first.reserve("gpt-4o", prompt_tokens=0, max_tokens=10_000)
    first.price_overrides["my-model"] = ModelPrice(prompt=9, completion=9)
    first.price("mystery")
    second.price("mystery")

    assert first.total_cost == pytest.approx(0.5)
    assert (second.total_cost, second.remaining, dict(second.by_role)) == (0, 1.0, {})
    assert second.price("my-model") == ModelPrice(prompt=1, completion=1)
    assert overrides["my-model"] == ModelPrice(prompt=1, completion=1)
    assert len(warnings_logged) == 2  # each manager warns for itself
