"""`Sales`: a retail guide that answers customers from a document store, citing its sources.

    store = FaissStore(DATA_PATH / "example.pdf")
    role = Sales(profile="Sales", store=store)
    result = await role.run("Which facial cleanser is good for oily skin?")

With a store, each question is searched in it and answered from the best passages by
`SearchAndSummarize`: the reply names the file and page it relied on, or says the documents do
not hold the answer. Without a store (`store=None`) the role answers as a plain role.
"""

from __future__ import annotations

from typing import Any, ClassVar

from metagpt.actions.action import Action
from metagpt.actions.answer import Answer
from metagpt.actions.search_and_summarize import SearchAndSummarize
from metagpt.prompts import render_prompt
from metagpt.roles.role import Role
from metagpt.tools.search_engine import SearchEngineType


class Sales(Role):
    """A retail sales guide.

    Attributes:
        store: a document store (`FaissStore`, or anything with `search_hits`/`search`) to
            answer from; None to answer from the model alone.
        max_results: passages of the store shown to the model for each question.
    """

    name: str = "Xiaomei"
    profile: str = "Retail sales guide"
    desc: str = ""
    """System prompt; empty uses the built-in one for this role (`prompts/sales.md`)."""
    store: Any = None
    max_results: int = 3

    prompt_name: ClassVar[str] = "sales"
    """The package prompt that is the default system prompt."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._set_store(self.store)

    def _set_store(self, store: Any) -> None:
        """Answer from `store` from now on (None: answer without documents)."""
        self.store = store
        if store is not None:
            action: Action = SearchAndSummarize(
                engine=SearchEngineType.CUSTOM_ENGINE, search_func=store, max_results=self.max_results
            )
        else:
            action = Answer()
        self.set_actions([action])

    def _get_prefix(self) -> str:
        if self.desc:
            return self.desc
        return render_prompt(self.prompt_name, name=self.name, profile=self.profile).strip()
