# Everything bootstraps itself: a fresh clone needs only python3.11 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.c360-installed
AS_OF ?= 2026-06-30

.PHONY: demo test bench bench-ui lint ui clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/c360 demo-data --as-of $(AS_OF)
	$(BIN)/c360 run --as-of $(AS_OF)

# The test suite also builds the dbt project on Spark and PostgreSQL: it needs the [spark] and [postgres] extras.
TEST_STAMP := $(VENV)/.c360-test-installed

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark,postgres]'
	@touch $(TEST_STAMP)

# Two test processes (pytest-xdist), a test file per process at a time: module fixtures build a home once, and
# most of a pipeline run is one busy Python thread. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
# The tests' temporary homes go to a RAM disk where there is one. Nearly every test runs the real pipeline in a
# fresh home, and a run commits hundreds of times to small files (Dagster's SQLite event log, one commit per
# event; DuckDB's checkpoints), each waiting for the disk: on the development machine a file of end-to-end tests
# took 197 s instead of 275 s. Only the folders of failed tests are kept (pyproject.toml). TEST_TMPDIR= (empty)
# keeps the system's temporary folder.
TEST_TMPDIR ?= $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm)

test: $(TEST_STAMP)
	$(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

bench-ui: $(STAMP)
	$(BIN)/python -m benchmarks.ui_path $(BENCH_ARGS)

# ruff on the Python, sqlfluff (dbt templater, on an in-memory DuckDB) on the dbt models; reports, never rewrites.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	C360_BUILD_DB=:memory: $(BIN)/sqlfluff lint dbt_project/models

ui: $(STAMP)
	$(BIN)/c360 ui

clean:
	rm -rf data dbt_project/target dbt_project/logs
