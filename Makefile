# aedc — the two commands a fresh machine needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check aedc tests examples $(wildcard benchmarks/*.py)
	$(VENV)/bin/mypy

test: $(STAMP) lint
	$(VENV)/bin/pytest

bench: $(STAMP)
	@set -e; for b in benchmarks/bench_*.py; do [ -e "$$b" ] || continue; echo "== $$b"; $(PY) "$$b"; done

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
