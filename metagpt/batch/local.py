"""The asyncio backend: up to N companies at once in this process, no extra dependency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from metagpt.batch.company import CompanyResult, CompanySettings, run_company
from metagpt.batch.ideas import Idea
from metagpt.batch.ledger import Ledger, LocalBudget


class AsyncioBackend:
    """Companies as tasks of this event loop, `workers` at a time; the ledger is an object here."""

    name = "asyncio"

    async def run(
        self,
        ideas: Sequence[Idea],
        settings: CompanySettings,
        workspace: Path,
        workers: int,
        ledger: Ledger | None,
        on_result: Callable[[CompanyResult], None],
    ) -> list[CompanyResult]:
        budget = LocalBudget(ledger) if ledger is not None else None
        slots = asyncio.Semaphore(workers)

        async def one(idea: Idea) -> CompanyResult:
            async with slots:
                result = await run_company(idea, settings, workspace, budget)
            on_result(result)
            return result

        tasks = [asyncio.ensure_future(one(idea)) for idea in ideas]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:  # Ctrl-C: every company ends as interrupted, keeping its files
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
