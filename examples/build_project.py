"""Run the whole company from Python, the way `startup.py` does."""

import asyncio
import sys

from metagpt.roles import Architect, Engineer, ProductManager, ProjectManager
from metagpt.software_company import SoftwareCompany


async def startup(idea: str, investment: float = 3.0, n_round: int = 5) -> None:
    company = SoftwareCompany()
    company.hire([ProductManager(), Architect(), ProjectManager(), Engineer()])
    company.invest(investment)
    company.start_project(idea)
    await company.run(n_round=n_round)
    print(f"Project written to {company.project.path}")
    print(company.cost_manager.summary())


if __name__ == "__main__":
    asyncio.run(startup(sys.argv[1] if len(sys.argv) > 1 else "a command-line snake game"))
