# tweetlake: the two commands a newcomer needs are `make run` and `make test`.
SHELL := bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test test-unit test-integration test-future lint typecheck pytest venv clean checkov \
	checkov-venv

CHECKOV_VENV  ?= .venv-checkov
CHECKOV_STAMP  = $(CHECKOV_VENV)/.installed

# Build the virtualenv from nothing; rebuilt whenever a requirements file changes.
# pip stays below 26.3: chalice 1.34 requires it (a newer pip is downgraded with an error line).
$(STAMP): requirements.txt requirements-dev.txt
	@echo "building $(VENV)/ from requirements-dev.txt (once; a minute or two on a first download)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip<26.3" 2>&1 | { grep -v "^WARNING: Location" || true; }
	PYTHONUNBUFFERED=1 $(BIN)/python -m pip install --progress-bar off -r requirements-dev.txt 2>&1 \
		| { grep --line-buffered -v -e "^WARNING: Location" -e "^Requirement already" || true; }
	touch $(STAMP)

venv: $(STAMP)

# checkov gets its own virtualenv (see requirements-checkov.txt for why).
$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	touch $(CHECKOV_STAMP)

checkov-venv: $(CHECKOV_STAMP)

## make run: the whole pipeline offline on this machine (moto server, synthetic tweets, API on :8000)
run: $(STAMP)
	$(BIN)/python -m tweetlake_local run $(ARGS)

## make test: lint, type check and the whole test suite (checkov over terraform/ included), offline
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/vulture

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make test-unit: the tests that open no socket (marker: not integration)
test-unit: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python -m pytest -m "not integration" $(PYTEST_ARGS)

## make test-integration: the tests against loopback servers (moto, fake X, chalice local)
test-integration: $(STAMP)
	$(BIN)/python -m pytest -m integration $(PYTEST_ARGS)

## make test-future: the suite with this process's clock SHIFT_DAYS ahead (default 400)
SHIFT_DAYS ?= 400
test-future: $(STAMP) $(CHECKOV_STAMP)
	TWEETLAKE_SHIFT_DAYS=$(SHIFT_DAYS) $(BIN)/python -m pytest $(PYTEST_ARGS)

## make checkov: checkov's own report over terraform/ (make test runs it as a test)
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --directory terraform --framework terraform --skip-download --quiet --compact

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .tweetlake
