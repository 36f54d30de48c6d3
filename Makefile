# The two commands: `make run` and `make test`. Both set everything up first.
# `make run` serves the settlement service with the demo data on http://127.0.0.1:8000
# (the database is var/yibao.db: migrated, and loaded with the demo data when empty).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install java-runtime run test bench bench-service bench-batch simulate-example clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: install
	$(BIN)/yibao serve --demo --database sqlite:///var/yibao.db

test: install java-runtime
	$(BIN)/python -m pytest

# Spark (the batch engine's cluster runner, tested in local mode) needs a Java runtime
java-runtime:
	@command -v java >/dev/null 2>&1 || { echo "installing a Java runtime for Spark"; \
	  (apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless) >/dev/null || \
	  { echo "no Java runtime: install openjdk-17-jre-headless (Spark needs it)"; exit 1; }; }

bench: install
	$(BIN)/python benchmarks/settle_reference.py

# the settlement service under load over loopback, on SQLite and PostgreSQL (about 2 minutes)
bench-service: install
	$(BIN)/python benchmarks/gateway_load.py --quick

# the batch engine: kernel, Parquet to Parquet at 1M, 10M and 30M claims, ratio to the reference (about 5 minutes)
bench-batch: install
	$(BIN)/python benchmarks/batch_engine.py

# the sample reform: 100,000 synthetic 杭州 insured, employee outpatient deductible 600 → 800 (about 20 s)
simulate-example: install
	$(BIN)/yibao synth --city hangzhou --persons 100000 --year 2026 --seed 0 --out var/synth-hangzhou-2026
	$(BIN)/yibao simulate --city hangzhou --claims var/synth-hangzhou-2026/visits.parquet \
	    --reform examples/reforms/hangzhou-employee-outpatient-deductible-800.yaml --out var/simulation-hangzhou-800

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .hypothesis
