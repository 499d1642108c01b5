# Set-up and test commands (see README). A bare `torch` requirement would make pip
# fetch a multi-GB CUDA build, so the CPU build is installed first, pinned.
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
RUNTIME := $(VENV)/.skdgating-runtime
STAMP  := $(VENV)/.skdgating-installed
# The tests pin one thread for determinism and a steady CI time. The demo and the
# benchmarks run in the user's default environment: the estimators size their own
# thread pools (skdgating/_threads.py), and the benchmarks print pinned figures beside.
THREADS := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

.PHONY: install test demo bench bench-mlp bench-compaction clean docs

# The runtime dependencies only (what `make demo` needs); `make install` adds the
# test extra (pytest, skglm, Sphinx, ...) on top.
$(RUNTIME): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e .
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

test: install
	$(THREADS) $(PY) -m pytest -q -p no:cacheprovider tests

demo: $(RUNTIME)
	$(PY) -m skdgating demo

docs: install
	$(THREADS) $(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

bench: install
	$(PY) -m pip install -q -e ".[benchmarks]"
	$(PY) benchmarks/bench_linear.py

# stg and lassonet pin old dependencies (lifelines would pull pandas < 3): no deps
bench-mlp: install
	$(PY) -m pip install -q --no-deps stg==0.1.2 lassonet==0.0.21
	$(PY) -m pip install -q h5py
	$(PY) benchmarks/bench_selection.py
	$(PY) benchmarks/bench_mlp_overhead.py

bench-compaction: install
	$(PY) benchmarks/bench_compaction.py

clean:
	rm -rf $(VENV) build dist *.egg-info docs/_build docs/generated
