# gsim: two commands do all their own set-up (see README).
#   make demo   create .venv, install, compare baseline_2021 with beijing_2022 over 20 ensemble members
#   make test   create .venv with the dev extras, run ruff, the import-layer check and the whole test suite

SHELL := /bin/bash
VENV  ?= .venv
# First interpreter >= 3.12 found: python3.12 / python3.13 on PATH, else a pyenv build.
PYTHON ?= $(shell \
  for p in python3.12 python3.13 python3; do \
    if $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then command -v $$p; exit 0; fi; \
  done; \
  ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3 2>/dev/null | head -n1)
BIN := $(VENV)/bin
DEMO_OUT ?= demo-output
REPORT_OUT ?= reports

.PHONY: demo test lint format bench report report-small clean help

help:
	@echo "make demo   - install and compare baseline_2021 with beijing_2022 over the calibrated ensemble (20 members)"
	@echo "make test   - install dev extras, run ruff, the import-layer check and the test suite"
	@echo "make bench  - run the benchmark scripts (writes BENCHMARKS.md)"
	@echo "make report - execute the report notebooks at full size into HTML (no code cells) under reports/"
	@echo "make report-small - the same at test size (quick check)"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "error: Python >= 3.12 not found (set PYTHON=/path/to/python3.12)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/gsim compare scenarios/baseline_2021.toml scenarios/beijing_2022.toml \
	  --ensemble scenarios/ensembles/baseline_2021.parquet --members 20 --reps 1 --workers 2 \
	  --out $(DEMO_OUT) --overwrite

$(VENV)/.installed-report: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[report]'
	@touch $@ $(VENV)/.installed

report: $(VENV)/.installed-report
	$(BIN)/python notebooks/render.py --out $(REPORT_OUT)

report-small: $(VENV)/.installed-report
	$(BIN)/python notebooks/render.py --small --out $(REPORT_OUT)/small

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check sim tests benchmarks notebooks
	$(BIN)/ruff format --check sim tests benchmarks notebooks
	$(BIN)/lint-imports  # the import layers of sim (pyproject.toml, [tool.importlinter])

format: $(VENV)/.installed-dev
	$(BIN)/ruff format sim tests benchmarks notebooks
	$(BIN)/ruff check --fix sim tests benchmarks notebooks

test: lint
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run_all.py
	$(BIN)/python benchmarks/sweep_throughput.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) $(REPORT_OUT) .pytest_cache .ruff_cache .hypothesis
