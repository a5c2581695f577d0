# aedc — the two commands a fresh machine needs: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean toolchain

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP) toolchain
	$(PY) examples/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check aedc tests examples $(wildcard benchmarks/*.py)
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# the Arm cross-compiler of 'aedc compile --build' and QEMU's Cortex-M4F board of 'aedc verify --target
# qemu' (apt, when missing; tests skip without them, the demo says what it skipped). NO_TOOLCHAIN=1 skips
# the install.
toolchain:
	@[ -n "$(NO_TOOLCHAIN)" ] || command -v arm-none-eabi-gcc >/dev/null 2>&1 || { \
	  echo "installing the Arm cross-compiler (gcc-arm-none-eabi + newlib, about 2.5 GB, apt-get);" \
	       "NO_TOOLCHAIN=1 skips it (cross-compilation is then skipped and said so)"; \
	  SUDO=; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y \
	  gcc-arm-none-eabi libnewlib-arm-none-eabi || echo "warning: gcc-arm-none-eabi not installed"; }
	@[ -n "$(NO_TOOLCHAIN)" ] || command -v qemu-system-arm >/dev/null 2>&1 || { \
	  echo "installing QEMU's Arm system emulator (qemu-system-arm, apt-get) for 'aedc verify --target qemu';" \
	       "NO_TOOLCHAIN=1 skips it"; \
	  SUDO=; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y \
	  qemu-system-arm || echo "warning: qemu-system-arm not installed"; }

test: $(STAMP) lint toolchain
	$(VENV)/bin/pytest

bench: $(STAMP)
	@set -e; for b in benchmarks/bench_*.py; do [ -e "$$b" ] || continue; echo "== $$b"; $(PY) "$$b"; done

# Mutation testing of the core modules (benchmarks/mutate.py, mutmut 3): hours, not CI; results in
# benchmarks/results/mutation.json. One module: make mutate MODULES=aedc/partition/bound.py
MODULES ?=
.PHONY: mutate
mutate: $(STAMP)
	$(VENV)/bin/pip install -q mutmut==3.8.1
	$(PY) benchmarks/mutate.py $(MODULES)

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

# Fuzz the frontend and pipeline with 100,000 hypothesis cases (+10% raw byte flips), FUZZ_JOBS pytest
# processes in parallel, each with its own seed; logs in build/fuzz-*.log. FUZZ_TOTAL scales the run.
FUZZ_JOBS ?= 2
FUZZ_TOTAL ?= 100000
.PHONY: fuzz
fuzz: $(STAMP)
	@mkdir -p build; set -e; pids=; \
	for i in $$(seq 1 $(FUZZ_JOBS)); do \
	  HYPOTHESIS_PROFILE=fuzz AEDC_FUZZ_TOTAL=$(FUZZ_TOTAL) AEDC_FUZZ_JOBS=$(FUZZ_JOBS) AEDC_FUZZ_JOB=$$i \
	    $(VENV)/bin/pytest -q -x --tb=short -p no:cacheprovider tests/fuzz > build/fuzz-$$i.log 2>&1 & pids="$$pids $$!"; \
	done; rc=0; for p in $$pids; do wait $$p || rc=1; done; \
	grep -h "cases ended\|passed\|failed" build/fuzz-*.log; exit $$rc

# Golden cases from the real frameworks (tests/data/conformance/): `conformance-data` builds the generator's
# own environment (torch CPU first, then snnTorch, Sinabs, Norse, Rockpool, Spyx) and regenerates every
# case; `conformance` regenerates them with the live frameworks and re-checks aedc against them.
CONF_VENV ?= .venv-conformance
CONF_PY := $(CONF_VENV)/bin/python
CONF_STAMP := $(CONF_VENV)/.installed
# a CPU build of torch 2.13.0: the local wheel where there is one, else name a CPU wheel here
CONFORMANCE_TORCH ?= $(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-cp311-*.whl) torch==2.13.0)
.PHONY: conformance-data conformance conformance-export

$(CONF_STAMP): conformance/requirements.txt conformance/requirements-nodeps.txt
	python3 -m venv $(CONF_VENV)
	$(CONF_PY) -m pip install -q --upgrade pip
	$(CONF_PY) -m pip install -q "$(CONFORMANCE_TORCH)"
	$(CONF_PY) -m pip install -q -r conformance/requirements.txt
	$(CONF_PY) -m pip install -q --no-deps -r conformance/requirements-nodeps.txt
	touch $(CONF_STAMP)

conformance-data: $(CONF_STAMP)
	$(CONF_PY) conformance/generate.py

# aedc → frameworks (issue 14 item 4): train Yin-Yang and export it in aedc's environment, load it with
# snnTorch's / Norse's / Sinabs' NIR importers in the generator's, check aedc against them without torch
conformance-export: $(CONF_STAMP) $(STAMP)
	$(PY) conformance/export_yinyang.py
	$(CONF_PY) conformance/export_frameworks.py
	$(VENV)/bin/pytest -q tests/test_conformance_export.py

conformance: conformance-data conformance-export $(STAMP)
	-$(PY) conformance/expected.py
	$(PY) conformance/readme.py --check
	$(VENV)/bin/pytest -q tests/test_conformance.py
	$(CONF_PY) conformance/recipes.py
