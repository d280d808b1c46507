# Every target bootstraps the virtual environment it needs; nothing has to be installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DIR ?= demo-instance

.PHONY: demo test test-fast lint bench golden tools clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,dev,check]'
	touch $(VENV)/.installed $@

# The preflight check's tools (issue #8): the Nu HTML checker and axe-core from npm, into the
# git-ignored tools/ folder; playwright comes with the check extra. SpamAssassin and Chromium are
# Debian packages: apt-get install spamassassin chromium fonts-liberation (.ci/run does it).
VNU_JAR := tools/node_modules/vnu-jar/build/dist/vnu.jar
$(VNU_JAR):
	@command -v npm >/dev/null || { echo "npm not found: no Nu HTML checker; its tests skip (CI fails them)"; exit 0; }; \
	npm install --prefix tools --no-save --no-audit --no-fund --ignore-scripts vnu-jar@26.9.27 axe-core@4.14.1 && touch $@

tools: $(VNU_JAR) $(VENV)/.installed-dev  ## The preflight tools: vnu-jar and axe-core (npm), playwright

demo: $(VENV)/.installed  ## A complete demo instance in demo-instance/, every stage run once
	$(BIN)/newsletter demo --dir $(DEMO_DIR) --fresh

test: $(VENV)/.installed-dev $(VNU_JAR)  ## The whole test suite, the slow tests included
	$(BIN)/python -m pytest -q

# The tests marked slow (SpamAssassin, Chromium/axe, the Nu checker, Dovecot, the demo, the
# README replay, whole-process crash tests) are left out: no preflight tools needed.
test-fast: $(VENV)/.installed-dev  ## The suite without the slow tests, for while you work
	NEWSLETTER_TEST_FAST=1 $(BIN)/python -m pytest -q -m "not slow"

lint: $(VENV)/.installed-dev  ## ruff (check + format) and mypy
	$(BIN)/ruff check newsletter tests benchmarks scripts
	$(BIN)/ruff format --check newsletter tests benchmarks scripts
	$(BIN)/mypy

bench: $(VENV)/.installed-dev  ## Benchmarks, reported as ratios against a baseline measured in the same run
	$(BIN)/python benchmarks/building.py
	$(BIN)/python benchmarks/delivery.py
	$(BIN)/python benchmarks/sending.py

golden: $(VENV)/.installed-dev  ## Regenerate the golden files of the rendered December issue
	$(BIN)/python -m tests.golden regenerate

clean:
	rm -rf $(VENV) $(DEMO_DIR) build tools .pytest_cache .mypy_cache .ruff_cache
