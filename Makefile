# Two set-up commands on a fresh machine: `make run` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch 2.13.0 resolves to the CPU build on this machine; an unpinned torch pulls CUDA wheels.
TORCH  := torch==2.13.0

.PHONY: run test bench lint docs clean browser

$(VENV)/.installed-run: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-run
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[test]'
	touch $@

# The explorer's browser tests drive Debian's Chromium (no driver needed: the DevTools pipe).
# As root (CI) it is installed here; elsewhere install it yourself or the tests skip (CI=true
# makes them fail instead).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is not installed: the explorer's browser tests will skip"; fi

run: $(VENV)/.installed-run
	$(PY) -m embtable.cli train -o out/default
	$(PY) -m embtable.cli evaluate out/default
	$(PY) -m embtable.cli similar out/default january france three war congress -k 8

test: $(VENV)/.installed-test browser
	$(PY) -m pytest -q

bench: $(VENV)/.installed-test
	$(PY) -m bench

lint: $(VENV)/.installed-test
	$(PIP) install --quiet ruff
	$(PY) -m ruff check src bench tests examples docs
	$(PY) -m ruff format --check src bench tests examples docs

docs: $(VENV)/.installed-test
	$(PY) -m mkdocs build --strict

clean:
	rm -rf $(VENV) build dist .pytest_cache
