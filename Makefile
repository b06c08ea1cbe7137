# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck unit browsers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the product: SQLite, the simulated carrier and demo data, on http://$(HOST):$(PORT)
run: export MESSAGECENTER_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: $(STAMP)
	$(BIN)/messagecenter db upgrade
	$(BIN)/messagecenter demo
	$(BIN)/messagecenter serve --host $(HOST) --port $(PORT)

## Lint, type-check and run the whole suite (and again on PostgreSQL when
## MESSAGECENTER_TEST_DATABASE_URL is set).
test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	MESSAGECENTER_TEST_BACKEND=sqlite $(BIN)/pytest
	@if [ -n "$$MESSAGECENTER_TEST_DATABASE_URL" ]; then \
		echo "== the suite again on PostgreSQL ($$MESSAGECENTER_TEST_DATABASE_URL)"; \
		MESSAGECENTER_TEST_BACKEND=postgresql $(BIN)/pytest; \
	else \
		echo "PostgreSQL pass SKIPPED: set MESSAGECENTER_TEST_DATABASE_URL to run the suite on PostgreSQL too (.ci/run does)."; \
	fi

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
