"""The one interface every model provider implements.

Providers only talk to their model. Retries, rate limits, cost accounting, budget checks,
validation and logging wrap them once, in `metagpt.llm.LLM`.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, Field


class Usage(BaseModel):
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    counted: bool = False
    """True when the counts are ours (tiktoken), not the server's."""
    cache_read_tokens: int = 0
    """Of `prompt_tokens`, those read from the provider's prompt cache (priced lower)."""
    cache_write_tokens: int = 0
    """Of `prompt_tokens`, those written to the provider's prompt cache (priced higher by some)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class OutputSchema(BaseModel):
    """The JSON schema a structured answer must follow."""

    name: str
    json_schema: dict[str, Any]

    @classmethod
    def of(cls, model: type[BaseModel]) -> OutputSchema:
        """The request-side description of `model`: its full schema, examples included."""
        return cls(name=model.__name__, json_schema=model.model_json_schema())


class ModelRequest(BaseModel):
    """One chat completion request, independent of the provider."""

    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float = 0.0
    output_schema: OutputSchema | None = None
    """When set, the provider constrains the answer to this schema as far as it can."""
    stop: list[str] = Field(default_factory=list)
    prompt_tokens: int | None = None
    """Our count of the prompt (schema included), as the budget reserved for it."""
    prompt_bound: bool = False
    """True when `prompt_tokens` is an upper bound of our count (`Provider.prompt_token_bound`),
    not the count itself; `metagpt.reservation.exact_prompt` counts it when a decision needs it."""


def prompt_allowance(prompt_tokens: int) -> int:
    """The most prompt tokens a server may report for a prompt we count as `prompt_tokens`.

    A quarter more plus 50, for tokenizers and chat templates that differ from ours. Usage above
    it is not trusted, and the budget reserves for it, so what is charged never exceeds what was
    reserved.
    """
    return prompt_tokens + prompt_tokens // 4 + 50


class ChoiceMessage(BaseModel):
    role: str = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ChoiceMessage
    finish_reason: str | None = None


class ModelResponse(BaseModel):
    """What a provider returns for one request.

    Also readable in the OpenAI shape (`response.choices[0].message.content`), as MetaGPT's
    `LLM.acompletion` callers expect, and as the dict MetaGPT 0.2 returned
    (`response["choices"][0]["message"]["content"]`, `len(response)`, `response.get("usage")`).
    """

    text: str
    usage: Usage
    model: str
    finish_reason: str | None = None

    @property
    def choices(self) -> list[Choice]:
        return [Choice(message=ChoiceMessage(content=self.text), finish_reason=self.finish_reason)]

    def to_dict(self) -> dict[str, Any]:
        """The chat completion as the API's JSON: `object`, `model`, `choices`, `usage`."""
        usage = {**self.usage.model_dump(), "total_tokens": self.usage.total_tokens}
        choices = [choice.model_dump() for choice in self.choices]
        return {"object": "chat.completion", "model": self.model, "choices": choices, "usage": usage}

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def keys(self) -> list[str]:
        return list(self.to_dict())

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def __len__(self) -> int:
        return len(self.to_dict())


class StreamChunk(BaseModel):
    """A piece of a streamed answer; the last chunk carries the final `response`."""

    delta: str = ""
    response: ModelResponse | None = None


class Provider(abc.ABC):
    """A chat model behind one small async interface."""

    model: str
    """Model name used for pricing and logs."""
    api_type: str = ""
    """The `api_type` its calls are journaled under (`openai`, `anthropic`, `deepseek`, ...)."""
    base_url: str = ""
    """Where its calls go (journaled, secrets redacted); empty for in-process models."""
    context_window: int | None = None
    """Maximum prompt + completion tokens, when the provider knows it."""
    max_completion_tokens: int | None = None
    """A cap on completion tokens below `MAX_TOKENS`, for slow or loop-prone models."""
    priced: bool = True
    """False for local and fake models, which cost nothing."""
    schema_overhead_tokens: int = 0
    """Prompt tokens the provider adds to a structured request on top of the schema (a tool-use
    system prompt), which the budget's hold counts."""

    @classmethod
    def from_config(cls, config: Any) -> Provider:
        """The provider as `config` (a `metagpt.config.Config`) sets it up."""
        raise NotImplementedError(f"{cls.__name__} is not built from a configuration")

    @abc.abstractmethod
    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Answer one request."""

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamChunk]:
        """Answer one request piece by piece; the default yields the whole answer at once."""
        response = await self.complete(request)
        yield StreamChunk(delta=response.text)
        yield StreamChunk(response=response)

    def count_tokens(self, messages: list[dict[str, str]]) -> int:
        """Prompt tokens of `messages` as this model counts them."""
        from metagpt.utils.token_counter import count_message_tokens

        return count_message_tokens(messages, self.model)

    def prompt_token_bound(self, messages: list[dict[str, str]]) -> int:
        """At least `count_tokens(messages)`, without loading a vocabulary when the count is
        tiktoken's (the UTF-8 length, `message_token_bound`); a provider that counts with a
        tokenizer of its own gives that count."""
        if type(self).count_tokens is not Provider.count_tokens:
            return self.count_tokens(messages)
        from metagpt.utils.token_counter import message_token_bound

        return message_token_bound(messages)

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has nothing to release."""
