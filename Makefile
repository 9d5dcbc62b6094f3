# tweetlake: the two commands a newcomer needs are `make run` and `make test`.
SHELL := bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test lint typecheck pytest venv clean checkov checkov-venv

CHECKOV_VENV  ?= .venv-checkov
CHECKOV_STAMP  = $(CHECKOV_VENV)/.installed

# Build the virtualenv from nothing; rebuilt whenever a requirements file changes.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
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

## make test: lint, type check, checkov over terraform/ and the whole test suite, offline
test: lint typecheck checkov pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make checkov: static security checks of terraform/ (offline; skips are annotated inline)
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --directory terraform --framework terraform --skip-download --quiet --compact

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache .tweetlake
