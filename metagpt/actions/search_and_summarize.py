"""`SearchAndSummarize`: search the web or a document store, then answer from what was found.

The model sees numbered references and answers with a `Summary`: whether the references hold the
answer, the answer, and which references it used. The reply cites those references (file and
page for documents, title and link for web pages), or says plainly that the answer was not
found, so nothing is made up when the search comes back empty-handed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loguru import logger
from pydantic import BaseModel, Field

from metagpt.actions.action import Action
from metagpt.configs.settings import check_sendable_text
from metagpt.exceptions import SearchEngineError, brief
from metagpt.prompts import load_prompt, render_prompt
from metagpt.schema import Message
from metagpt.tools.search_engine import CustomEngine, SearchEngine, SearchEngineType, SearchResult, engine_from_config
from metagpt.utils.grounding import check, figures, names, quote_passage

if TYPE_CHECKING:
    from metagpt.llm import LLM

HISTORY_MESSAGES = 10
"""Earlier messages shown to the model as dialogue history."""


class Summary(BaseModel):
    """The model's answer to a question, grounded in numbered references."""

    found: bool = Field(
        description="true only if the references contain the answer to the current question", examples=[True]
    )
    answer: str = Field(
        description="the reply to the question, using only facts from the references; empty when found is false",
    )
    sources: list[int] = Field(
        default_factory=list,
        description="numbers of the references the answer relies on, for example [1]",
        examples=[[1]],
    )


def not_found(where: str) -> str:
    """The reply when the references do not hold the answer."""
    return f"Sorry, I could not find the answer to that in {where}, so I would rather not guess."


class SearchAndSummarize(Action):
    """Answer the latest message from search results.

    Args:
        name: the action's name.
        context: unused; kept for MetaGPT's `Action(name, context, llm)` signature.
        llm: the model; by default the owning role's.
        engine: a `SearchEngine`, a `SearchEngineType`, or None for the configured web engine
            (`SEARCH_ENGINE` and its key, read when the action runs).
        search_func: a document store or any function of the query, searched instead of the web.
        max_results: how many results the model sees.
    """

    engine: SearchEngine | SearchEngineType | None = None
    search_func: Any = None
    max_results: int = 5
    result: str = ""
    """The raw search results of the last run, as text."""

    def __init__(self, name: str = "", context: Any = None, llm: LLM | None = None, **fields: Any):
        super().__init__(name, context, llm, **fields)
        if self.search_func is not None:
            self.engine = CustomEngine(self.search_func)
        elif self.engine is SearchEngineType.CUSTOM_ENGINE:
            raise ValueError("SearchEngineType.CUSTOM_ENGINE needs a search_func (a function or a document store)")
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
        messages = [context] if isinstance(context, str | Message) else list(context)
        if not messages:
            raise ValueError("SearchAndSummarize needs at least one message to answer")
        query = str(getattr(messages[-1], "content", messages[-1]))
        check_sendable_text(query, "The question")  # a lone surrogate would fail every request, retried
        history = "\n".join(str(m) for m in messages[-1 - HISTORY_MESSAGES : -1]) or "(none)"
        try:
            engine = self._engine()
            self.results = await engine.search(query, self.max_results)
        except SearchEngineError as exc:
            logger.warning(str(exc))
            self.result, self.results = "", []
            return str(exc)
        self.result = "\n\n".join(str(r) for r in self.results)
        if not self.results:
            logger.info(f"{engine.name}: no results for {brief(query)}")
            return not_found(engine.name)
        references = "\n\n".join(
            quote_passage(i, " - ".join(part for part in (r.title, r.link) if part), r.snippet)
            for i, r in enumerate(self.results, start=1)
        )
        prompt = render_prompt("search_and_summarize", context=references, history=history, query=query)
        summary = await self._aask_model(
            prompt, Summary, system_msgs=[system_text or load_prompt("search_and_summarize_system")]
        )
        return self.render(summary, engine.name, query)

    def render(self, summary: Summary, where: str, query: str = "") -> str:
        """The answer followed by the references it used; the not-found reply when it has none.

        Names and figures are checked against the references (`grounding.check`): figures as
        numbers that a reference must hold as whole tokens (the question does not count), names
        as whole words of a reference or the question, with a reference's instruction-like
        sentences counting for nothing. An answer failing the check, or whose names all come
        from the question, is treated as invented and replaced by the not-found reply. The
        references cited are those holding most of the answer's names and figures; for an
        answer without any, the ones the model named, else the best-ranked one.
        """
        answer = summary.answer.strip()
        if not summary.found or not answer:
            return not_found(where)
        grounding = check(answer, [str(r) for r in self.results], query)
        if not grounding.grounded:
            logger.warning(
                f"{where}: the answer names {grounding.missing or grounding.terms}, found in no reference; not using it"
            )
            return not_found(where)
        counts = grounding.support
        holding = [r for r, count in zip(self.results, counts, strict=True) if count and count == max(counts)]
        named = [self.results[n - 1] for n in dict.fromkeys(summary.sources) if 1 <= n <= len(self.results)]
        cited = holding or named or self.results[:1]
        lines = list(dict.fromkeys(_citation(r) for r in cited))
        return answer + "\n\nSources:\n" + "\n".join(f"- {line}" for line in lines)


def specific_terms(text: str) -> list[str]:
    """The names and figures of `text` that an answer must not make up (see `grounding`).

    Figures are prices, percentages, decimals and numbers of 10 or more, written as in the
    text without thousands separators (`1200`, `14.90`, `nine`); names as `grounding.names`.
    """
    found = [f.text.replace(",", "") for f in figures(text) if f.significant]
    return list(dict.fromkeys(found + names(text)))


def _citation(result: SearchResult) -> str:
    if result.title and result.link:
        return f"[{result.title}]({result.link})"
    return result.title or result.link or result.snippet[:80]
