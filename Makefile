# The two commands of the README's quick start — each builds its own virtual environment first.
#   make demo   runs the main job on the embedded default (SQLite, no accounts, no network)
#   make test   runs the whole test suite (SQLite and PostgreSQL) and the linter
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck schemas bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/delivery-metrics demo

test: $(STAMP)
	bash scripts/ensure-system-deps.sh
	$(BIN)/ruff check .
	$(BIN)/pytest -n auto -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check collector connectors metrics tests

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --sizes S,M --out benchmark-results.json

schemas: $(STAMP)
	$(BIN)/python -c "import json; from collector.events.schema import event_json_schema; \
	open('docs/events.schema.json', 'w').write(json.dumps(event_json_schema(), indent=2) + '\n')"

clean:
	rm -rf $(VENV) .demo .pytest_cache .ruff_cache .mypy_cache *.egg-info
