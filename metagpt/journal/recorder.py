"""`CallRecorder`: one model call's rows in the journal, from `started` to how it ended."""

from __future__ import annotations

from typing import Any

from loguru import logger

from metagpt.exceptions import ProviderError
from metagpt.journal.scope import current_scope
from metagpt.journal.store import CANCELLED, ERROR, OK, CallEnd, CallStart, Journal, fingerprint
from metagpt.provider.base import ModelRequest, ModelResponse, Usage


def request_record(request: ModelRequest) -> dict[str, Any]:
    """What of a request decides its answer (and is stored): not our own token count."""
    record: dict[str, Any] = {
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": request.stop,
    }
    if request.output_schema is not None:
        record["output_schema"] = request.output_schema.model_dump()
    return record


class CallRecorder:
    """Journals the attempts of one `LLM.request`, and answers it from the journal on resume.

    Args:
        journal: the project's journal.
        role: the role charged for the call.
        model, api_type, base_url: where the call goes.
        request: the request as it will be sent.
    """

    def __init__(self, journal: Journal, role: str, model: str, api_type: str, base_url: str, request: ModelRequest):
        scope = current_scope()
        record = request_record(request)
        self.journal = journal
        self.request_hash = fingerprint(model, record)
        self.start = CallStart(
            role=role,
            action=scope.action,
            target=scope.target,
            model=model,
            api_type=api_type,
            base_url=base_url,
            call_key=journal.call_key(role, scope.action, scope.target),
            request_hash=self.request_hash,
            request=record,
        )
        self.model = model

    def replay(self) -> ModelResponse | None:
        """The answer an earlier run recorded for this very request, or None."""
        reported = self.journal.mismatch
        answer = self.journal.replay(self.request_hash, self.start.call_key, self.start)
        if answer is None:
            if reported is None and self.journal.mismatch is not None:
                logger.warning(
                    f"The journal's answer to {self.start.call_key} no longer matches its request (the model, a prompt "
                    "or a setting changed): calls are sent, and paid, again from here."
                )
            return None
        usage = Usage(prompt_tokens=0, completion_tokens=0)
        return ModelResponse(
            text=answer["text"], usage=usage, model=answer.get("model", self.model), finish_reason=answer.get("finish")
        )

    def begin(self, attempt: int, reserved: float) -> int:
        self.start.attempt, self.start.reserved = attempt, reserved
        return self.journal.begin(self.start)

    def ok(self, row: int, response: ModelResponse, cost: float, price: tuple[float, float], ms: float) -> None:
        self.journal.finish(row, self._end(OK, response, cost, price, ms))

    def failed(self, row: int, error: BaseException, cost: float, price: tuple[float, float], ms: float) -> None:
        end = self._end(ERROR, None, cost, price, ms)
        end.error = f"{type(error).__name__}: {error}"
        end.http_status = getattr(error, "status", None) if isinstance(error, ProviderError) else None
        self.journal.finish(row, end)

    def cancelled(self, row: int, cost: float, price: tuple[float, float], ms: float) -> None:
        end = self._end(CANCELLED, None, cost, price, ms)
        end.error = "cancelled while in flight; charged at its worst case"
        self.journal.finish(row, end)

    @staticmethod
    def _end(
        status: str, response: ModelResponse | None, cost: float, price: tuple[float, float], ms: float
    ) -> CallEnd:
        end = CallEnd(status=status, cost=cost, price_prompt=price[0], price_completion=price[1], latency_ms=ms)
        if response is not None:
            end.response = {"text": response.text, "finish": response.finish_reason, "model": response.model}
            end.prompt_tokens = response.usage.prompt_tokens
            end.completion_tokens = response.usage.completion_tokens
            end.usage_source = "counted" if response.usage.counted else "server"
        return end
