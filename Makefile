# KALIDO data platform: the front door. `make help` lists the targets.
PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False

.PHONY: help venv demo test lint airflow-db airflow-test airflow-local bench bench-recs eval eval-generated purge clean docs-check report report-check

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(BIN)/kalido: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode
	@touch $@

venv: $(BIN)/kalido  ## create .venv from the lock file (system Python 3.11, no downloads)

demo: venv  ## generate a sample landing zone, run the nightly pipeline, print where outputs are
	$(BIN)/kalido demo

TEST_WORKERS ?= auto
test: lint  ## lint and the whole test suite (unit, scenarios, integration with `airflow dags test`)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder --durations=25

lint: venv  ## ruff lint and format check, sqlfluff lint of sql/ and tables/ (.sqlfluff)
	$(BIN)/ruff check kalido dags tests
	$(BIN)/ruff format --check kalido dags tests
	$(BIN)/sqlfluff lint sql/ tables/

airflow-db: venv  ## create the local Airflow metadata database under .airflow/ (and the kalido pool)
	$(BIN)/airflow db migrate
	$(BIN)/airflow pools set kalido 1 "kalido: nightly and retention never run together" >/dev/null

clean:  ## remove the venv, local Airflow state and the demo data
	rm -rf $(VENV) $(TOOLS) .airflow data

DATE ?= 2026-11-24
airflow-test: airflow-db  ## airflow dags test kalido_nightly $(DATE) on $(KALIDO_HOME) (default ./data)
	KALIDO_HOME=$${KALIDO_HOME:-$(CURDIR)/data} $(BIN)/airflow dags test kalido_nightly $(DATE)

SHARDS ?= 3
airflow-local: airflow-db  ## the DAG on the LocalExecutor, $(SHARDS) shard tasks in parallel (DATE, KALIDO_HOME)
	KALIDO_HOME=$${KALIDO_HOME:-$(CURDIR)/data} $(BIN)/python -m kalido.tools.airflow_local \
		--date $(DATE) --shards $(SHARDS)

CHROMIUM := /usr/bin/chromium
docs-check: venv  ## render the Data Docs in headless Chromium (installs Debian's chromium if missing)
	@test -x $(CHROMIUM) || (apt-get update && apt-get install -y chromium)
	KALIDO_REQUIRE_CHROMIUM=1 $(BIN)/python -m pytest tests/integration/test_quality.py -k "render or offline" -rs

FROM ?= 2026-11-11
TO ?= 2026-11-24
report: venv  ## the DPO's report for FROM..TO (default: the demo's days) on $(KALIDO_HOME) (default ./data)
	KALIDO_HOME=$${KALIDO_HOME:-$(CURDIR)/data} $(BIN)/kalido report --from $(FROM) --to $(TO)

report-check: venv  ## render the DPO's report in headless Chromium (installs Debian's chromium if missing)
	@test -x $(CHROMIUM) || (apt-get update && apt-get install -y chromium)
	KALIDO_REQUIRE_CHROMIUM=1 $(BIN)/python -m pytest tests/integration/test_report.py -k chromium -rs

SIZE ?= S
DAYS ?= 3
bench: venv  ## per-stage time, rows/s and peak memory at SIZE=S|M|L after DAYS days (or DAYS=3,30,60,90), vs a DuckDB floor
	$(BIN)/python -m kalido.tools.bench --size $(SIZE) --days $(DAYS)

purge: venv  ## erasures and retention as of $(DATE) on $(KALIDO_HOME) (default ./data)
	KALIDO_HOME=$${KALIDO_HOME:-$(CURDIR)/data} $(BIN)/kalido purge --date $(DATE)

DATASETS ?= $(CURDIR)/../shared/datasets
EVAL_DIR ?= $(CURDIR)/data/eval
LOGS ?= rees46,uci,diginetica_buys
eval: venv  ## docs/evaluation.md's tables: import and evaluate the real logs in DATASETS (absent: skipped)
	$(BIN)/python -m kalido.tools.eval_logs --datasets $(DATASETS) --out $(EVAL_DIR) --logs $(LOGS)

EVAL_HOME ?= $(CURDIR)/data/eval-generated
SPLIT ?= 2026-11-18
HORIZON ?= 7
eval-generated: venv  ## offline evaluation on EVAL_HOME (with landing/, default: a generated zone)
	@test -d $(EVAL_HOME)/landing || $(BIN)/kalido generate --days 21 --users 1500 --products 400 --bad-rate 0 --out $(EVAL_HOME)
	$(BIN)/kalido evaluate --home $(EVAL_HOME) --split-date $(SPLIT) --horizon $(HORIZON)

bench-recs: venv  ## recommender vs implicit ItemItem at 1M users x 100k products x 10M interactions
	$(BIN)/python -m kalido.tools.bench_recs
