# Two commands for everybody:
#   make run    start the demo: Redis, Zope with the "Musterstadt" site, a delivery worker
#   make test   run all tests
# Both install what is missing first (Debian packages, a virtual environment under .venv).
# For developers: make lint (CI runs it before the tests), make format, make changelog.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := redis-server chromium openssl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test fuzz install system-packages i18n clean lint format changelog

run: install
	$(BIN)/messenger-demo

test: install
	$(BIN)/pytest

# Longer, randomized fuzzing of the HTTP services (the tests run derandomized, the same
# examples every time): new examples on every run, FUZZ_FACTOR (default 10) times as many.
# Failures are kept in .hypothesis/ and tried first next time; pin them with @example.
FUZZ_TESTS := tests/test_webhooks_fuzz.py tests/test_rest_fuzz.py
fuzz: install
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest --hypothesis-show-statistics $(FUZZ_TESTS)

install: system-packages $(STAMP)

# redis-server for the tests and the demo, Debian's Chromium for the browser tests
# (Playwright cannot download its own browser here), openssl for the tests' throwaway TLS CA.
system-packages:
	@if ! command -v redis-server >/dev/null || [ ! -x /usr/bin/chromium ] || ! command -v openssl >/dev/null; then \
		echo "Installing Debian packages: $(APT_PACKAGES)"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

$(STAMP): pyproject.toml worker/pyproject.toml sandbox/pyproject.toml constraints.txt
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e worker -e sandbox -e ".[test]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .pytest_cache

# The developers' tools (ruff, zpretty, codespell, i18ndude, towncrier) live in their own
# virtual environment, pinned in requirements-lint.txt: they are tools, not dependencies.
LINT_VENV := .venv-lint
LINT_BIN := $(LINT_VENV)/bin
LINT_STAMP := $(LINT_VENV)/.installed
# ZCML, GenericSetup profiles and page templates, for zpretty
MARKUP = $(shell find src -name '*.zcml' -o -name '*.xml' -o -name '*.pt' | sort)

$(LINT_STAMP): requirements-lint.txt
	[ -x $(LINT_BIN)/python ] || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_BIN)/pip install -q -r requirements-lint.txt
	touch $(LINT_STAMP)

# Runs every check (changing nothing) and fails if any of them failed.
lint: $(LINT_STAMP)
	@failed=""; \
	echo "ruff check"; $(LINT_BIN)/ruff check --no-fix --output-format concise . || failed="$$failed ruff-check"; \
	echo "ruff format --check"; $(LINT_BIN)/ruff format --check --output-format concise . || failed="$$failed ruff-format"; \
	echo "zpretty --check"; $(LINT_BIN)/zpretty --check $(MARKUP) || failed="$$failed zpretty"; \
	echo "codespell"; $(LINT_BIN)/codespell || failed="$$failed codespell"; \
	echo "i18ndude find-untranslated"; \
	(cd src/collective/messenger && ../../../$(LINT_BIN)/i18ndude find-untranslated -s .) || failed="$$failed i18n-templates"; \
	echo "i18n catalog"; $(LINT_BIN)/python tools/i18n_check.py || failed="$$failed i18n-catalog"; \
	if [ -n "$$failed" ]; then \
		echo "make lint failed:$$failed (make format fixes ruff-format, zpretty and most of ruff-check)"; exit 1; \
	fi; \
	echo "make lint: all checks passed"

# Rewrites what the tools can fix: imports and ruff's other safe fixes, the code's layout,
# ZCML, XML and page templates.
format: $(LINT_STAMP)
	$(LINT_BIN)/ruff check --fix-only --quiet .
	$(LINT_BIN)/ruff format .
	$(LINT_BIN)/zpretty -i $(MARKUP)

# The change logs the next release would get from the news/ fragments (changes nothing).
changelog: $(LINT_STAMP)
	$(LINT_BIN)/towncrier build --draft --version next
	cd worker && ../$(LINT_BIN)/towncrier build --draft --version next
	cd sandbox && ../$(LINT_BIN)/towncrier build --draft --version next

# Rebuild the message catalog from the code and merge new msgids into the German one.
LOCALES := src/collective/messenger/locales
i18n: $(LINT_STAMP)
	cd src/collective/messenger && ../../../$(LINT_BIN)/i18ndude rebuild-pot --pot locales/collective.messenger.pot --create collective.messenger .
	$(LINT_BIN)/i18ndude sync --pot $(LOCALES)/collective.messenger.pot $(LOCALES)/de/LC_MESSAGES/collective.messenger.po
