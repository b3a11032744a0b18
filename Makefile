# The two commands of the README: `make demo` and `make test`.
# Both bootstrap a local virtualenv (.venv) from pyproject.toml when it is
# missing or older than pyproject.toml, so a fresh machine needs only
# python3, make and apt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.finpy-installed

.PHONY: demo test lint typecheck unit bench docs clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if ! $(PYTHON) -m venv --help >/dev/null 2>&1 || ! $(PYTHON) -c 'import ensurepip' >/dev/null 2>&1; then \
	  echo "python3 has no venv/ensurepip: installing python3-venv with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q python3-venv; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/finpy demo

lint: $(STAMP)
	$(BIN)/ruff check finpy finpy_protocols tests examples
	$(BIN)/ruff format --check finpy finpy_protocols tests examples

typecheck: $(STAMP)
	$(BIN)/mypy --strict finpy finpy_protocols

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/finpy bench --quick

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
