# The two commands: `make run` (demo) and `make test` (everything CI checks).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export COOLTHING_TEST_DATABASE_URL ?= postgresql+asyncpg://coolthing:coolthing@127.0.0.1:5432/coolthing_test
export COOLTHING_TEST_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/coolthing_test
export COOLTHING_BENCH_DATABASE_URL ?= postgresql+asyncpg://coolthing:coolthing@127.0.0.1:5432/coolthing_bench
export COOLTHING_BENCH_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672/coolthing_bench

ASSETS := admin/static/vendor/.built

.PHONY: run test install assets services lint typecheck unit integration e2e bench

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

install: $(VENV)/.installed

# The panel's CSS/JS from the npm registry (admin/web/package-lock.json), the panel's and the
# notifier bot's translations.
$(ASSETS): admin/web/package.json admin/web/package-lock.json admin/web/build.sh $(wildcard admin/locale/*/LC_MESSAGES/messages.po) $(wildcard notifier/locale/*/LC_MESSAGES/messages.po) | $(VENV)/.installed
	./admin/web/build.sh
	$(BIN)/pybabel -q compile -d admin/locale
	$(BIN)/pybabel -q compile -d notifier/locale
	touch $@

assets: $(ASSETS)

run: install assets
	$(BIN)/coolthing demo

services:
	./compose/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install assets
	$(BIN)/pytest -q tests/unit

integration: install assets services
	$(BIN)/pytest -q tests/integration

e2e: install assets services
	$(BIN)/pytest -q tests/e2e

# Two workers, each with its own database and RabbitMQ vhost (tests/conftest.py); the few tests
# that stop the shared broker run after them, alone.
test: install assets services lint typecheck
	./compose/ensure-browser.sh
	./compose/ensure-docker.sh || echo "no Docker engine here: the watchdog's Docker tests skip"
	./compose/ensure-tools.sh
	$(BIN)/pytest -q -n 2 -m "not broker_outage" --durations=15 tests
	$(BIN)/pytest -q -m broker_outage tests

bench: install assets services
	for b in parser bus pipeline outreach guardrails panel notifier scripts chaos intent intent_parser queue_types; do $(BIN)/python -m bench.$$b || exit 1; done
