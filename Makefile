# Two entry points: `make demo` (set up and run on simulated devices) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

VALIDATOR_DIR := tools/bids-validator
VALIDATOR     := $(VALIDATOR_DIR)/node_modules/.installed

.PHONY: demo cohort test lint setup validator bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# The official BIDS validator (npm bids-validator 1.15, pinned by package-lock.json) for the export test.
# Without node/npm the test says so and is skipped.
$(VALIDATOR): $(VALIDATOR_DIR)/package.json $(VALIDATOR_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(VALIDATOR_DIR) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the BIDS validator test will be skipped"; fi

validator: $(VALIDATOR)

demo: $(STAMP)
	$(PY) main.py demo $(DEMO_ARGS)

# A simulated cohort of 20, its group report and its BIDS dataset (folders must not exist yet).
cohort: $(STAMP)
	$(PY) main.py demo --cohort 20 --root cohort_recordings
	$(PY) main.py analyze cohort_recordings --out cohort_analysis
	$(PY) main.py export-bids cohort_recordings --out cohort_bids

test: $(STAMP) $(VALIDATOR)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info $(VALIDATOR_DIR)/node_modules
