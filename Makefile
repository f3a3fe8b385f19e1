# Two commands on a fresh machine:
#   make build   - create .venv with the pinned dependencies (first run), build + publish the warehouse from the sample
#   make test    - lint, dbt build with every data/unit test, pytest
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build test install lint docs clean

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

build: $(STAMP)
	$(BIN)/clv build

test: $(STAMP)
	$(BIN)/clv test

docs: $(STAMP)
	$(BIN)/clv dbt -- docs generate

clean:
	rm -rf target logs .dbt warehouse
