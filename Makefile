# Guichet: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test lint typecheck pytest validate bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/guichet migrate
	$(BIN)/guichet run --port $(PORT)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check engine storage renderer tests bench
	$(BIN)/ruff format --check engine storage renderer tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

validate: $(STAMP)
	$(BIN)/guichet validate

bench: $(STAMP)
	$(BIN)/python bench/validate_pack.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/instructions.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
