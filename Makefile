# Two commands on a fresh machine:
#   make build   - create .venv with the pinned dependencies (first run), build + publish the warehouse from the sample
#   make test    - lint, dbt build with every data/unit test, pytest
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: build test install lint docs clean spark-install spark-build test-spark lint-spark
SPARK_STAMP := $(VENV)/.spark-installed

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

# Spark target (docs/scaling.md); not part of build/test. Java 17 is installed when `java` is missing (needs root).
$(SPARK_STAMP): $(STAMP) requirements-spark.txt
	@command -v java >/dev/null || { \
		echo "Java is missing: installing openjdk-17-jre-headless (apt-get, needs root)"; \
		apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless; }
	$(BIN)/pip install --quiet -r requirements-spark.txt
	touch $(SPARK_STAMP)

spark-install: $(SPARK_STAMP)

spark-build: $(SPARK_STAMP)
	$(BIN)/clv build --target spark

# builds the sample on Spark and on DuckDB and compares every mart and audit model (minutes: not part of `make test`)
test-spark: $(SPARK_STAMP)
	$(BIN)/python -m pytest -m spark tests/python/test_spark_parity.py

# sqlfluff with the Spark SQL dialect (the DuckDB pass is part of `make test`)
lint-spark: $(SPARK_STAMP)
	$(BIN)/python -m clvlayer.lint --sparksql

docs: $(STAMP)
	$(BIN)/clv dbt -- docs generate

clean:
	rm -rf target logs .dbt warehouse
