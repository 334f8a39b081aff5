# Two commands for everybody:
#   make run    start the demo: Redis, Zope with the "Musterstadt" site, a delivery worker
#   make test   run all tests
# Both install what is missing first (Debian packages, a virtual environment under .venv).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := redis-server chromium openssl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test fuzz install system-packages i18n clean

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

$(STAMP): setup.py worker/setup.py constraints.txt
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e worker -e ".[test]"
	touch $(STAMP)

clean:
	rm -rf $(VENV) var .pytest_cache

# Rebuild the message catalog from the code and merge new msgids into the German one
# (i18ndude lives in its own virtual environment: it is a tool, not a dependency).
I18N_VENV := .venv-i18n
LOCALES := src/collective/messenger/locales
i18n:
	[ -x $(I18N_VENV)/bin/i18ndude ] || ($(PYTHON) -m venv $(I18N_VENV) && $(I18N_VENV)/bin/pip install -q i18ndude)
	cd src/collective/messenger && ../../../$(I18N_VENV)/bin/i18ndude rebuild-pot --pot locales/collective.messenger.pot --create collective.messenger .
	$(I18N_VENV)/bin/i18ndude sync --pot $(LOCALES)/collective.messenger.pot $(LOCALES)/de/LC_MESSAGES/collective.messenger.po
