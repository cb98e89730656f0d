"""MetaGPT: a team of LLM roles working as a software company.

Importing the package does no work: no files are read, no network is opened, nothing is
configured. See `metagpt.software_company.SoftwareCompany` and `metagpt.llm.LLM`.
"""

__version__ = "0.1.0"
