# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SPARK4_VENV := .venv-spark4
# The second lane: Spark 4.x with its matching Delta (Databricks, Fabric).
SPARK4_PINS := pyspark==4.0.1 delta-spark==4.0.1
PYTEST_ARGS ?=

.PHONY: install demo test test-cluster lint test-spark4 dist docs bench clean

$(VENV)/.installed: setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[local,test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/lakehouse demo

lint: install
	$(VENV)/bin/ruff check .

# Every suite, the standalone-cluster module included (it starts a Spark master and two workers on loopback).
test: install lint
	$(PY) -m pytest -q --durations=25 $(PYTEST_ARGS)
	$(MAKE) test-spark4

# The standalone-cluster module alone (marker `cluster`).
test-cluster: install
	$(PY) -m pytest -q -m cluster $(PYTEST_ARGS)

$(SPARK4_VENV)/.installed: setup.py
	$(PYTHON) -m venv $(SPARK4_VENV)
	$(SPARK4_VENV)/bin/python -m pip install -q --upgrade pip
	$(SPARK4_VENV)/bin/python -m pip install -q -e . $(SPARK4_PINS) pytest==8.3.5
	touch $@

# Smoke lane on Spark 4: create the lake database, write and read Delta, `lakehouse plan`.
test-spark4: $(SPARK4_VENV)/.installed
	$(SPARK4_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/spark4_smoke.py --noconftest

docs: install
	$(VENV)/bin/lakehouse docs

dist: install
	rm -rf dist && $(PY) -m pip wheel -q --no-deps -w dist .
	$(PY) scripts/build_py_files.py dist/lakehouse_py_files.zip

bench: install
	bench/run

clean:
	rm -rf $(VENV) $(SPARK4_VENV) build dist *.egg-info
