# PD Prime — the two commands of the quickstart, and a few helpers.
#   make demo   start the platform with demo data on http://127.0.0.1:8000
#   make test   ruff, mypy --strict, the import contracts and every test with coverage (>= 85%)

SHELL := /bin/bash
BOOTSTRAP := .pd-prime/uv-bootstrap
# pytest-xdist processes: each has its own scratch databases (and embedded server).
PYTEST_WORKERS ?= 2
UV := $(shell command -v uv 2>/dev/null || echo $(BOOTSTRAP)/bin/uv)

.PHONY: demo test sync lint typecheck architecture pytest serve migrate clean gate

$(BOOTSTRAP)/bin/uv:
	@echo "uv not found: installing it into $(BOOTSTRAP) from PyPI"
	python3 -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/pip install --quiet uv

sync: $(if $(shell command -v uv 2>/dev/null),,$(BOOTSTRAP)/bin/uv)
	$(UV) sync --locked

demo: sync
	PD_PRIME_ENV=$${PD_PRIME_ENV:-demo} PD_PRIME_LOG_JSON=$${PD_PRIME_LOG_JSON:-false} \
		$(UV) run --no-sync pd-prime demo

lint: sync
	$(UV) run --no-sync ruff check src tests ops
	$(UV) run --no-sync ruff format --check src tests ops

typecheck: sync
	$(UV) run --no-sync mypy

# The layering and domain boundaries of ARCHITECTURE.md (contracts in .importlinter).
architecture: sync
	$(UV) run --no-sync lint-imports

pytest: sync
	@if command -v promtool >/dev/null; then \
		echo "promtool found: tests/ops runs the alert rules' unit tests"; \
	else \
		echo "promtool not found: the alert rules' unit tests (tests/ops) are skipped; apt-get install prometheus"; \
	fi
	$(UV) run --no-sync pytest -n $(PYTEST_WORKERS) --cov --cov-report=term-missing:skip-covered --cov-fail-under=85

test: lint typecheck architecture pytest

# The performance gate (.ci/run): callgrind instructions per request against ops/perf/baseline.json;
# needs valgrind. After an intended change: uv run pd-prime bench gate --update, commit the file.
gate: sync
	$(UV) run --no-sync pd-prime bench gate
	# The memory bounds, without coverage's tracer (it keeps a record per traced frame).
	$(UV) run --no-sync pytest tests/integration/test_memory_growth.py -p no:cacheprovider -p no:cov -q

serve: sync
	$(UV) run --no-sync pd-prime serve

migrate: sync
	$(UV) run --no-sync pd-prime migrate

clean:
	rm -rf .pd-prime .venv .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
