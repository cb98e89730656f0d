"""What one model call holds in the budget before it is sent, counting its prompt no more exactly
than the decision needs.

Counting a prompt exactly means loading the model's vocabulary (`o200k_base`: about 77 MB and a
good part of a second), and most calls do not need it: their worst case fits in what is left with
room to spare. So a prepared request carries an upper bound of our count (`bounded_prompt`: the
UTF-8 length of its messages and schema), and `hold` reserves the worst case of that bound. Only
when it does not fit is the prompt counted exactly (`exact_prompt`) and the exact worst case held
instead: a call is refused exactly when the worst case of our count exceeds what is left, as
before, and no call is sent without a hold that covers every usage the check accepts for it
(`metagpt.provider.usage.checked_usage` checks the server's usage against the count that was held).

An answer billed but never read is charged the worst case of the exact count, not of the bound
(`metagpt.cost_manager.Reservation.unread_charge`): the bound decides what is held, never what
is charged.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from metagpt.cost_manager import Reservation
from metagpt.exceptions import NoMoneyException
from metagpt.provider.base import ModelRequest, Provider
from metagpt.utils.structured import strict_json_schema
from metagpt.utils.token_counter import count_text_tokens, text_token_bound

if TYPE_CHECKING:
    from metagpt.cost_manager import CostManager


def bounded_prompt(provider: Provider, request: ModelRequest) -> ModelRequest:
    """`request` with `prompt_tokens` at least our count of its prompt (schema included), counted
    without a vocabulary where the provider's count is tiktoken's (`Provider.prompt_token_bound`)."""
    tokens = provider.prompt_token_bound(request.messages)
    bound = type(provider).count_tokens is Provider.count_tokens
    if request.output_schema is not None:
        tokens += schema_token_bound(request.output_schema.json_schema) + provider.schema_overhead_tokens
        bound = True
    return request.model_copy(update={"prompt_tokens": tokens, "prompt_bound": bound})


def exact_prompt(provider: Provider, request: ModelRequest) -> ModelRequest:
    """`request` with `prompt_tokens` our count of its prompt (schema included), as `LLM.prepare`
    counted it before bounds: the provider's `count_tokens` and `schema_tokens`."""
    if not request.prompt_bound:
        return request
    tokens = provider.count_tokens(request.messages)
    if request.output_schema is not None:
        tokens += schema_tokens(request.output_schema.json_schema, provider.model) + provider.schema_overhead_tokens
    return request.model_copy(update={"prompt_tokens": tokens, "prompt_bound": False})


async def hold(costs: CostManager, provider: Provider, request: ModelRequest) -> tuple[ModelRequest, float]:
    """Reserve the worst case of one attempt of the prepared `request`; returns the request as it
    is to be sent (its `prompt_tokens` are what was held for) and the reservation.

    The bound's worst case is held when it fits; otherwise the exact count's, and
    `NoMoneyException` when that does not fit either (nothing is held then).
    """
    model, priced = provider.model, provider.priced
    if not request.prompt_bound:
        return request, await costs.areserve(model, request.prompt_tokens or 0, request.max_tokens, priced)
    try:
        reserved = await costs.areserve(model, request.prompt_tokens or 0, request.max_tokens, priced)
    except NoMoneyException:
        exact = exact_prompt(provider, request)
        return exact, await costs.areserve(model, exact.prompt_tokens or 0, exact.max_tokens, priced)
    if reserved <= 0:
        return request, reserved

    def exact_worst_case() -> float:
        exact = exact_prompt(provider, request)
        return costs.worst_case(model, exact.prompt_tokens or 0, exact.max_tokens, priced)

    return request, Reservation(reserved, getattr(reserved, "ticket", None), exact_worst_case)


def schema_token_bound(schema: dict[str, Any]) -> int:
    """At least `schema_tokens(schema, model)` for every model, with no vocabulary."""
    return _schema_token_bound(json.dumps(schema))


@functools.lru_cache(maxsize=64)
def _schema_token_bound(schema_json: str) -> int:
    forms = (schema_json, json.dumps(strict_json_schema(json.loads(schema_json))))
    return max(text_token_bound(form) for form in forms)


def schema_tokens(schema: dict[str, Any], model: str) -> int:
    """Prompt tokens an endpoint may bill for a response schema, in whichever form it is sent."""
    return _schema_tokens(json.dumps(schema), model)


@functools.lru_cache(maxsize=64)
def _schema_tokens(schema_json: str, model: str) -> int:
    """`schema_tokens` of a schema given as JSON: an action sends the same schema on every call."""
    schema = json.loads(schema_json)
    forms = (schema_json, json.dumps(strict_json_schema(schema)))
    return max(count_text_tokens(form, model) for form in forms)
