# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

LOCALES := dialer/web/locale
POT := $(LOCALES)/messages.pot

.PHONY: demo test lint fmt clean extract update compile

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dialer demo

# The suite runs one worker more than the cores (pytest-xdist, at most 4): much of its time
# is spent waiting on simulators, browsers and engine processes (on 2 cores: 3 workers,
# about 7 minutes against 9 with 2); idle workers take tests queued for busy ones
# (worksteal), so the long cluster tests do not end the run alone. `PYTEST_ARGS=-n0` runs
# it serially.
WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, (os.cpu_count() or 1) + 1))")
PYTEST_ARGS ?= -n $(WORKERS) --dist worksteal
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Translations: the .po catalogs in $(LOCALES) are the source; the pages compile them in
# memory at first use, so `demo` and `test` need none of these.
# extract: the template of every key the code uses (babel.cfg) and the English catalog's.
extract: $(STAMP)
	$(BIN)/python -m dialer.web.catalogs pot $(POT)

# update: new keys into every catalog (empty, for a translator: a test fails until then).
update: extract
	$(BIN)/pybabel update --input-file $(POT) --output-dir $(LOCALES) --domain messages \
		--width 100 --no-fuzzy-matching

# compile: the binary .mo files, for tools that read gettext's format (checks the catalogs).
compile: $(STAMP)
	$(BIN)/pybabel compile --directory $(LOCALES) --domain messages --statistics

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
	rm -f $(POT) $(LOCALES)/*/LC_MESSAGES/*.mo
