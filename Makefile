# Every target installs what it needs into .venv first, so a fresh clone needs only
# Python 3.11 and make.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench faults fuzz clean install

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

# two pytest-xdist workers, each test file whole on one of them (its module fixtures shared):
# most tests wait on real processes and timers, so two take about 0.6 of the time of one on
# two cores (README, "Tests"); TEST_WORKERS=0 runs the suite in one process
TEST_WORKERS ?= 2
test: $(STAMP) lint
	bash tests/install_browser.sh
	bash tests/install_prometheus.sh
	$(BIN)/pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# the fault suite alone, its recovery figures printed (make test runs it too)
faults: $(STAMP)
	$(BIN)/pytest -q -s -p no:randomly tests/faults

# a longer fuzz campaign than make test's fixed budget: N inputs per target, a random search
# (docs/security.md, "Fuzzing"); FUZZ_EXAMPLES=5000 make fuzz
FUZZ_EXAMPLES ?= 200
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -p no:randomly tests/api/test_fuzz.py \
		tests/consul/test_fuzz.py tests/spec/test_fuzz.py tests/router/test_fuzz.py \
		tests/router/test_fuzz_responses.py

bench: $(STAMP)
	$(BIN)/pytest -q -s tests/bench -o addopts="" -p no:cacheprovider

clean:
	rm -rf $(VENV) .reconciler .pytest_cache .mypy_cache .ruff_cache
