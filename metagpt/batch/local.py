"""The asyncio backend: up to N companies at once in this process, no extra dependency."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from metagpt.batch.company import CompanyResult, CompanySettings, Meter, run_company
from metagpt.batch.ideas import Idea
from metagpt.batch.ledger import Ledger, LocalBudget
from metagpt.batch.progress import Tracker


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
        tracker: Tracker,
    ) -> list[CompanyResult]:
        budget = LocalBudget(ledger) if ledger is not None else None
        slots = asyncio.Semaphore(workers)

        async def one(index: int, idea: Idea) -> CompanyResult:
            async with slots:
                meter = Meter()
                tracker.started(index, meter)
                result = await run_company(idea, settings, workspace, budget, meter)
            tracker.ended(index, result)
            return result

        tasks = [asyncio.ensure_future(one(index, idea)) for index, idea in enumerate(ideas)]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:  # Ctrl-C: every company ends as interrupted, keeping its files
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
