PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/evniche run aml --days 365 --out demo-output
	@echo "Report: demo-output/report.html"

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/wellmixed.py
	$(BIN)/python benchmarks/spatial.py
	$(BIN)/python benchmarks/physicell.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/sensitivity.py
	$(BIN)/python benchmarks/thrombin.py
	$(BIN)/python benchmarks/stochastic.py

# 10,000 mutated models: load + compile each, simulate a sample; 0 unhandled, 0 hangs wanted
fuzz: $(STAMP)
	$(BIN)/python -W ignore tests/fuzz/fuzz.py --count $(or $(COUNT),10000)

clean:
	rm -rf $(VENV) demo-output .demo-output.lock
