"""`SearchAndSummarize`: search the web or a document store, then answer from what was found.

The model sees numbered references and answers with a `Summary`: whether the references hold the
answer, the answer, and which references it used. The reply cites those references (file and
page for documents, title and link for web pages), or says plainly that the answer was not
found, so nothing is made up when the search comes back empty-handed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loguru import logger
from pydantic import BaseModel, Field

from metagpt.actions.action import Action
from metagpt.exceptions import SearchEngineError
from metagpt.prompts import load_prompt, render_prompt
from metagpt.schema import Message
from metagpt.tools.search_engine import CustomEngine, SearchEngine, SearchEngineType, SearchResult, engine_from_config


class Summary(BaseModel):
    """The model's answer to a question, grounded in numbered references."""

    found: bool = Field(description="true only if the references contain the answer to the current question")
    answer: str = Field(
        description="the reply to the question, using only facts from the references; empty when found is false"
    )
    sources: list[int] = Field(
        default_factory=list, description="numbers of the references the answer relies on, for example [1]"
    )


def not_found(where: str) -> str:
    """The reply when the references do not hold the answer."""
    return f"Sorry, I could not find the answer to that in {where}, so I would rather not guess."


class SearchAndSummarize(Action):
    """Answer the latest message from search results.

    Args:
        name: kept for MetaGPT compatibility.
        engine: a `SearchEngine`, a `SearchEngineType`, or None for the configured web engine
            (`SEARCH_ENGINE` and its key, read when the action runs).
        search_func: a function of the query (or a document store) to search instead of the web.
        max_results: how many results the model sees.
    """

    def __init__(
        self,
        name: str = "",
        engine: SearchEngine | SearchEngineType | None = None,
        search_func: Callable[..., Any] | Any | None = None,
        max_results: int = 5,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if search_func is not None:
            engine = CustomEngine(search_func)
        elif engine is SearchEngineType.CUSTOM_ENGINE:
            raise ValueError("SearchEngineType.CUSTOM_ENGINE needs a search_func")
        self.engine = engine
        self.max_results = max_results
        self.result = ""
        """The raw search results of the last run, as text."""
        self.results: list[SearchResult] = []

    def _engine(self) -> SearchEngine:
        if isinstance(self.engine, SearchEngine):
            return self.engine
        config = self.llm.config
        if isinstance(self.engine, SearchEngineType):
            config = config.model_copy(update={"search_engine": self.engine.value})
        return engine_from_config(config)

    async def run(self, context: list[Message] | Message | str, system_text: str | None = None) -> str:
        """The reply to the last message of `context`, with its sources, or why there is none."""
        messages = [context] if isinstance(context, (str, Message)) else list(context)
        if not messages:
            raise ValueError("SearchAndSummarize needs at least one message to answer")
        query = str(getattr(messages[-1], "content", messages[-1]))
        history = "\n".join(str(m) for m in messages[:-1]) or "(none)"
        try:
            engine = self._engine()
            self.results = await engine.search(query, self.max_results)
        except SearchEngineError as exc:
            logger.warning(str(exc))
            self.result, self.results = "", []
            return str(exc)
        self.result = "\n\n".join(str(r) for r in self.results)
        if not self.results:
            logger.info(f"{engine.name}: no results for {query!r}")
            return not_found(engine.name)
        references = "\n\n".join(f"[{i}] {r}" for i, r in enumerate(self.results, start=1))
        prompt = render_prompt("search_and_summarize", context=references, history=history, query=query)
        systems = [s for s in (self.system_prompt, system_text or load_prompt("search_and_summarize_system")) if s]
        summary = await self.llm.aask_model(prompt, Summary, system_msgs=systems)
        return self.render(summary, engine.name)

    def render(self, summary: Summary, where: str) -> str:
        """The answer followed by the references it used; the not-found reply when it has none."""
        if not summary.found or not summary.answer.strip():
            return not_found(where)
        used = [self.results[n - 1] for n in dict.fromkeys(summary.sources) if 1 <= n <= len(self.results)]
        cited = used or self.results[:1]  # a model that names no reference answered from the best one
        lines = list(dict.fromkeys(_citation(r) for r in cited))
        return summary.answer.strip() + "\n\nSources:\n" + "\n".join(f"- {line}" for line in lines)


def _citation(result: SearchResult) -> str:
    if result.title and result.link:
        return f"[{result.title}]({result.link})"
    return result.title or result.link or result.snippet[:80]
