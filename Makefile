# Two commands on a fresh machine: `make demo` and `make test`. Every target installs what it needs,
# idempotently: the venv is rebuilt only when pyproject.toml changes, the Kafka jars only when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TWIN := $(VENV)/bin/twin
STAMP := $(VENV)/.installed
export TWIN_CACHE ?= $(CURDIR)/.cache
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
PYTEST_ARGS ?=

.PHONY: help install system-deps kafka demo test test-fast lint format bench clean

help:
	@echo "make demo   - install, then run twin's main job (a SimPy scenario on DuckDB; SLA + cost summary)"
	@echo "make test   - install everything the tests need (Python deps, Kafka jars, kcat, redis-server), then pytest"
	@echo "make lint   - ruff, the layer contracts (import-linter) and mypy"
	@echo "make bench  - run the benchmarks behind BENCHMARKS.md"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Debian packages the live tests use: kcat (a real third-party Kafka client), redis-server (the API's
# shared rate limits and cache), and Java 17 + Maven for the
# Kafka broker and its jars. Only what is missing is installed.
system-deps:
	@missing=""; \
	command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jre-headless"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (install with: sudo apt-get install$$missing)"; fi; \
	fi

# Apache Kafka jars via Maven into $(TWIN_CACHE)/kafka; offline and instant once cached.
kafka: $(STAMP) system-deps
	$(TWIN) broker install

demo: $(STAMP)
	$(TWIN) demo

test: $(STAMP) system-deps kafka
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -m "not live" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check twin tests benchmarks loadtests chaos fixtures
	$(VENV)/bin/ruff format --check twin tests benchmarks loadtests chaos fixtures
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format twin tests benchmarks loadtests chaos fixtures
	$(VENV)/bin/ruff check --fix twin tests benchmarks loadtests chaos fixtures

bench: $(STAMP)
	$(TWIN) bench all

clean:
	rm -rf .twin .pytest_cache .ruff_cache
