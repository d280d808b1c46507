# Every target bootstraps the virtual environment it needs; nothing has to be installed by hand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DIR ?= demo-instance
# Test processes: one per core (`make test TEST_WORKERS=0` runs in this process, for pdb)
TEST_WORKERS ?= auto

.PHONY: demo test test-fast lint bench bench-relay golden reader-screens tools flufl-bounce clean

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
# oidc-provider is the real OpenID provider the console's sign-in tests start (issue #14).
# caniemail (MIT, its LICENSE in tools/node_modules/caniemail/) ships the caniemail.com feature
# data the preflight reads for its client-support warnings (issue #16). One npm install names
# them all: a --no-save install removes what an earlier one put there.
VNU_JAR := tools/node_modules/vnu-jar/build/dist/vnu.jar
OIDC_PROVIDER := tools/node_modules/oidc-provider/package.json
CANIEMAIL := tools/node_modules/caniemail/dist/data/caniemail.json
NPM_TOOLS := vnu-jar@26.9.27 axe-core@4.14.1 oidc-provider@9.13.3 caniemail@2.0.2
$(VNU_JAR) $(OIDC_PROVIDER) $(CANIEMAIL) &:
	@command -v npm >/dev/null || { echo "npm not found: no Nu HTML checker, OpenID provider or caniemail data; their tests skip (CI fails them)"; exit 0; }; \
	npm install --prefix tools --no-save --no-audit --no-fund --ignore-scripts $(NPM_TOOLS) && touch $(VNU_JAR) $(OIDC_PROVIDER) $(CANIEMAIL)

tools: $(VNU_JAR) $(OIDC_PROVIDER) $(CANIEMAIL) $(VENV)/.installed-dev  ## The preflight tools: vnu-jar, axe-core and the caniemail data (npm), playwright; oidc-provider for the sign-in tests

# Real bounce messages for tests/test_real_reports.py (issue #13): the ones flufl.bounce ships in
# its source distribution (Apache 2.0, its LICENSE inside the archive), read from the archive as
# it is; nothing is vendored and nothing is fetched while the tests run.
FLUFL_BOUNCE_VERSION := 6.0.0
FLUFL_BOUNCE_SDIST := tools/flufl-bounce/flufl_bounce-$(FLUFL_BOUNCE_VERSION).tar.gz
$(FLUFL_BOUNCE_SDIST): | $(BIN)/python
	$(BIN)/pip download --quiet --no-deps --no-binary :all: --dest tools/flufl-bounce \
		flufl.bounce==$(FLUFL_BOUNCE_VERSION)
	test -f $@

flufl-bounce: $(FLUFL_BOUNCE_SDIST)  ## flufl.bounce's source distribution (its bounce messages)

demo: $(VENV)/.installed  ## A complete demo instance in demo-instance/, every stage run once
	$(BIN)/newsletter demo --dir $(DEMO_DIR) --fresh

test: $(VENV)/.installed-dev $(VNU_JAR) $(OIDC_PROVIDER) $(CANIEMAIL) $(FLUFL_BOUNCE_SDIST)  ## The whole test suite, the slow tests included
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The tests marked slow (SpamAssassin, Chromium/axe, the Nu checker, Dovecot, the demo, the
# README replay, whole-process crash tests) are left out: no preflight tools needed.
test-fast: $(VENV)/.installed-dev $(FLUFL_BOUNCE_SDIST)  ## The suite without the slow tests, for while you work
	NEWSLETTER_TEST_FAST=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not slow"

lint: $(VENV)/.installed-dev  ## ruff (check + format) and mypy
	$(BIN)/ruff check newsletter tests benchmarks scripts
	$(BIN)/ruff format --check newsletter tests benchmarks scripts
	$(BIN)/mypy

bench: $(VENV)/.installed-dev  ## Benchmarks, reported as ratios against a baseline measured in the same run
	$(BIN)/python benchmarks/building.py
	$(BIN)/python benchmarks/delivery.py
	$(BIN)/python benchmarks/sending.py
	$(BIN)/python benchmarks/console.py

# 10,000 messages into a local Postfix, 1, 2 and 4 connections, 3 rounds: about 15 minutes.
bench-relay: $(VENV)/.installed-dev  ## The hand-off into a local Postfix against smtplib (root, Debian's postfix)
	$(BIN)/python benchmarks/relay.py

golden: $(VENV)/.installed-dev  ## Regenerate the golden files of the rendered December issue
	$(BIN)/python -m tests.golden regenerate

reader-screens: $(VENV)/.installed-dev  ## Measure the December issue on a phone (Chromium) and rewrite docs/reader/*.png
	$(BIN)/python -m tests.reader_layout --screenshots docs/reader

clean:
	rm -rf $(VENV) $(DEMO_DIR) build tools .pytest_cache .mypy_cache .ruff_cache
