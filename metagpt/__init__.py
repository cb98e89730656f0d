"""MetaGPT: a team of LLM roles working as a software company.

Importing the package does no work: no files are read, no network is opened, nothing is
configured. See `metagpt.software_company.SoftwareCompany` and `metagpt.llm.LLM`.
"""

__version__ = "0.1.0"

from metagpt.compat import install as _install_compat_paths

_install_compat_paths()  # MetaGPT's module paths that name a higher layer's things (no import, no I/O)
