# One command per task; CI (.ci/run) and the README call these same targets.
# `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
CARGO  ?= cargo

.PHONY: help venv build demo test test-rust test-python test-scalar lint fmt bench bench-dask fuzz clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "maturin>=1.8,<2" numpy scipy "hypothesis>=6.100" "pytest>=8" "pytest-benchmark>=4" matplotlib "ruff>=0.6" \
		"tqdm>=4.60" "scikit-learn>=1.2" "mnist1d>=0.0.2" "dask[array]>=2024.1" "distributed>=2024.1"
	touch $@

venv: $(VENV)/.deps  ## create .venv with the build and test dependencies

build: venv  ## build the extension in release mode into .venv
	. $(VENV)/bin/activate && maturin develop --release --locked -q

demo: build  ## run the main demo
	$(PY) -m fastconv demo

test-rust:  ## cargo tests of the pure-Rust core (no Python)
	$(CARGO) test --locked --no-default-features

test-python: build  ## pytest (tests/ and a smoke run of benches/)
	$(PY) -m pytest

# The RSS-growth and GIL tests measure the process, not the kernels: run once, in test-python.
test-scalar: build  ## the Python suite again on the portable kernel (FASTCONV_ISA=scalar)
	FASTCONV_ISA=scalar $(PY) -m pytest tests --ignore=tests/test_memory.py --ignore=tests/test_gil.py

test: test-rust test-scalar test-python  ## everything CI runs

lint: venv  ## cargo fmt --check, clippy -D warnings, ruff
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --all-targets --no-default-features -- -D warnings
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches

fmt:  ## format Rust and Python
	$(CARGO) fmt --all
	$(VENV)/bin/ruff format python tests benches

bench: build  ## side-by-side benchmark table against the peers
	$(PY) -m fastconv bench

bench-dask: build  ## fastconv.dask on 1 and 2 local worker processes, overhead per chunk
	$(PY) -m fastconv.dask bench

fuzz:  ## libFuzzer targets of the Rust core for FUZZ_SECONDS (default 60; stable toolchain)
	fuzz/run.sh $${FUZZ_SECONDS:-60}

clean:  ## remove build outputs
	rm -rf target $(VENV) python/fastconv/_core*.so
