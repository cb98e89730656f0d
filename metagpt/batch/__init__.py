"""Many companies at once (`metagpt batch`): see `runner.run_batch`."""

from metagpt.batch.company import BatchOptions, CompanyResult
from metagpt.batch.ideas import Idea, read_ideas
from metagpt.batch.runner import BatchResults, run_batch

__all__ = ["BatchOptions", "BatchResults", "CompanyResult", "Idea", "read_ideas", "run_batch"]
