PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo posteriors test lint bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The demo runs aml over its shipped posterior (src/evniche/posteriors/aml/): the report's
# trajectory plots show the median and 50 %/90 % bands of DEMO_ENSEMBLE members
DEMO_ENSEMBLE ?= 20

demo: $(STAMP)
	$(BIN)/evniche run aml --days 365 --ensemble $(DEMO_ENSEMBLE) --out demo-output
	@echo "Report: demo-output/report.html"

# Regenerate every shipped posterior (src/evniche/posteriors/PRESET/) with a small budget
# (docs/calibration.md, "Shipped posteriors"). Run it after a preset changes: the test
# tests/calibration/test_shipped_posteriors.py fails until then. Resumes when interrupted.
# --leave-one-out: then the same calibration again without each finding's own observations
# (those in the fit), shipped in src/evniche/posteriors/PRESET/leave-one-out/FINDING/ for
# `evniche scenarios run --leave-one-out` (docs/calibration.md, "Leave one out").
POSTERIOR_BUDGET := --population 8 --generations 2 --predictive 0
# (blast_self_renewal is derived from O11 since clinical-course.md item 15: blast_seed, the
# founder burden at day 0, is the assumption calibrated in its place)
POSTERIOR_aml := --parameters blast_seed,blast_death,lsc_division_interval

posteriors: $(STAMP)
	$(BIN)/evniche calibrate aml --ship --leave-one-out $(POSTERIOR_aml) $(POSTERIOR_BUDGET)

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
	$(BIN)/python benchmarks/calibration.py

# 10,000 mutated models: load + compile each, simulate a sample; 0 unhandled, 0 hangs wanted
fuzz: $(STAMP)
	$(BIN)/python -W ignore tests/fuzz/fuzz.py --count $(or $(COUNT),10000)

clean:
	rm -rf $(VENV) demo-output .demo-output.lock
