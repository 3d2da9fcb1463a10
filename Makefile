# Two entry points for a fresh clone: `make report` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The browser tests drive this Chromium with Playwright (tests/browser.py reads it): the Debian
# package `chromium`, never a downloaded browser. `make test CHROMIUM=/path/to/chromium` for another.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM

# Chromium can be installed here when we are root and apt-get exists.
CAN_APT = $(shell [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1 && echo yes)
APT_INSTALL = echo "make test: installing chromium for the browser tests (apt-get)" >&2; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq chromium > /dev/null
NO_CHROMIUM = make test needs Chromium at $(CHROMIUM) for the browser tests and cannot install \
	it (that needs root and apt-get): run "sudo apt-get install -y chromium" (Debian, Ubuntu) or \
	pass CHROMIUM=/path/to/chromium

# Prerequisites are made in the order written (browser check before the 2-minute venv).
.NOTPARALLEL:
.PHONY: report test venv browser bench lint clean

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

## Make sure the browser tests have Chromium: found, installed (root + apt-get), or stop here with
## one line saying what to install. Nothing else has run at that point.
browser:
	@$(if $(wildcard $(CHROMIUM)),:,$(if $(CAN_APT),$(APT_INSTALL),$(error $(NO_CHROMIUM))))
	@test -x "$(CHROMIUM)" || { echo '$(NO_CHROMIUM)' >&2; exit 1; }

## Run the whole test suite (browser tests included, never skipped)
test: browser $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet --group lint
	$(BIN)/python -m ruff check activation_kb tests benchmarks

clean:
	rm -rf $(VENV) build dist reports
