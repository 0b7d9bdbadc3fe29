# The README's two commands: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test lint bench bench-smoke bench-tools soak

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(PY) app.py

test: $(VENV)/.installed
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The benchmark (bench/run.py; see the README's "Benchmark"): wrk from apt, and the profiler
# (py-spy) in the venv. BENCH_ARGS passes options through,
# e.g. `make bench BENCH_ARGS="--large --backend sqlite"`.
BENCH_ARGS ?=
BENCH_PACKAGES := 'py-spy>=0.4'

$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet $(BENCH_PACKAGES)
	touch $@

bench-tools: $(VENV)/.bench-installed
	@command -v wrk >/dev/null 2>&1 || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

bench: bench-tools
	$(PY) bench/run.py $(BENCH_ARGS)

# A few seconds per case, to keep the benchmark from rotting; it asserts nothing about speed.
bench-smoke: bench-tools
	$(PY) bench/run.py --smoke --backend sqlite $(BENCH_ARGS)

# The soak (bench/soak.py; see the README's "Benchmark"): three minutes of mixed traffic against
# two granian workers, then a graceful stop and its checks; it exits non-zero if one fails.
# e.g. `make soak SOAK_ARGS="--seconds 600 --backend postgresql"`.
SOAK_ARGS ?=

soak: $(VENV)/.installed
	$(PY) bench/soak.py $(SOAK_ARGS)
