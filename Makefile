# Set-up on a fresh machine: `make demo` and `make test` create .venv and install everything they need.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export NUMBA_CACHE_DIR ?= $(CURDIR)/.venv/numba-cache

.PHONY: demo test test-quick fuzz lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (Python 3.11) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch is pinned to the CPU build that lies on these machines' disk (see README)
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m nas_edge.demo

# the gate runs the same hypothesis examples every time; `make fuzz` draws fresh ones (and more of them)
test: $(STAMP)
	HYPOTHESIS_PROFILE=repeatable $(BIN)/python -m pytest -q -p no:cacheprovider

fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow" $(shell grep -l hypothesis tests/test_*.py)

test-quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# ruff, then mypy on the whole package ([tool.mypy] in pyproject.toml; strict on the cost-model rooms)
lint: $(STAMP)
	$(BIN)/ruff check nas_edge tests benchmarks examples plugins
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cost_model.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
