# Two commands do all the set-up on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Migrates the database (SQLite file by default), loads the sample catalogue into an
# empty one, then starts the bot: the console chat when no platform is configured.
run: install
	$(PY) -m bot migrate
	$(PY) -m bot agencies import --if-empty bot/data/sample_agencies.csv
	$(PY) -m bot services import --if-empty bot/data/sample_services.csv
	$(PY) -m bot run

# The whole suite, on SQLite and PostgreSQL (TEST_DATABASES=sqlite for SQLite only), on
# every core: each pytest-xdist worker migrates databases of its own once.
test: install
	$(PY) -m pytest -n auto --dist loadgroup

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
