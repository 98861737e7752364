# Every target installs what it needs into .venv first, so a fresh clone needs only
# Python 3.11 and make.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/reconciler agent -dev

lint: $(STAMP)
	$(BIN)/ruff check reconciler controllers tests
	$(BIN)/ruff format --check reconciler controllers tests
	$(BIN)/lint-imports
	$(BIN)/mypy reconciler controllers

test: $(STAMP) lint
	bash tests/install_browser.sh
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/pytest -q -s tests/bench -o addopts="" -p no:cacheprovider

clean:
	rm -rf $(VENV) .reconciler .pytest_cache .mypy_cache .ruff_cache
