# Two entry points for a fresh clone: `make report` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: report test venv bench clean lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . --group test
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (activation_kb)" > /dev/null
	touch $(STAMP)

venv: $(STAMP)

## Run the main job on the bundled sample: writes reports/latest/fleet_report.html
report: $(STAMP)
	$(BIN)/activation-kb report run --out reports/latest

## Run the whole test suite (browser tests need /usr/bin/chromium: apt-get install -y chromium)
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet --group lint
	$(BIN)/python -m ruff check activation_kb tests benchmarks

clean:
	rm -rf $(VENV) build dist reports
