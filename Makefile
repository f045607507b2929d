# The two commands of the README set everything up themselves: only Python 3.11 and pip are needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test check format bench docs clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@ $(RUN_STAMP)

$(BENCH_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $@ $(DEV_STAMP) $(RUN_STAMP)

## make demo: run the whole flow on the sandboxes (DEMO_ARGS=--no-serve to exit when done)
demo: $(RUN_STAMP)
	$(BIN)/learnerledger demo $(DEMO_ARGS)

## make test: the full test suite (PYTEST_ARGS to pass options to pytest)
test: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make check: lint, format check and strict types
check: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

## make bench: every benchmark script, each printing its figures (installs the bench extras)
bench: $(BENCH_STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## make docs: regenerate the command reference (docs/cli.md) from the code
docs: $(DEV_STAMP)
	$(BIN)/python tests/cli_reference.py > docs/cli.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
