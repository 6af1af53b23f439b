# Two commands do all set-up from a fresh clone: `make run` and `make test`.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
# Bytecode compiled at install: without it every process (the temporary Prefect server, each
# worker) compiled its imports again, and a trivial flow took 15 s instead of 7.
SYNC_FLAGS := --frozen --compile-bytecode
SYNCED := .venv/.synced-$(shell (cat uv.lock pyproject.toml; echo $(SYNC_FLAGS)) | cksum | cut -d' ' -f1)
export UV_PYTHON_DOWNLOADS := never
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup run serve test test-all lint bench eval-real eval-pages train clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(SYNCED): uv.lock pyproject.toml | $(UV)
	$(UV) sync $(SYNC_FLAGS) --python $(PYTHON)
	rm -f .venv/.synced-*
	touch $@

setup: $(SYNCED)  ## install the locked environment into .venv

run: setup  ## archive data/raw into data/processed (Prefect's embedded server)
	.venv/bin/newsarchive run --raw-dir data/raw --out-dir data/processed

serve: setup  ## Prefect server + the archive deployment + its runner; UI on PREFECT_SERVER_API_PORT (4200); Ctrl-C stops
	.venv/bin/python -m flows.serve

# Whole test modules to one process each, as many processes as cores (pytest-xdist): a module's
# server or archive, set up once, serves its tests; tests/conftest.py puts the long modules first.
PARALLEL := -n auto --dist loadfile --no-loadscope-reorder

test: setup  ## the tests that start no server and no browser (1.5-2 min on two cores)
	.venv/bin/pytest -m "not slow" $(PARALLEL)

test-all: setup  ## every test: also the real flow runs, servers, crashes and the browser (CI runs this)
	.venv/bin/pytest $(PARALLEL)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

clean:
	rm -rf .venv $(TOOLS) data/processed/*/

BENCH_SIZES ?= 1000 10000 100000
bench: setup  ## newsarchive vs the I/O floor, all-pairs and MinHashLSH on synthetic corpora (not in `make test`)
	.venv/bin/python -m bench.run --sizes $(BENCH_SIZES) --profile --out BENCHMARKS.md
	.venv/bin/python -m bench.incremental --articles 5000 --append BENCHMARKS.md

# realdev (research use only) is read where it lies; nothing of it enters the repository. SPLIT=holdout or
# both scores the holdout split too, and every such look is logged in ~/.cache/newsarchive/holdout-looks.log.
REALDEV ?= ../shared/realdev
SPLIT ?= dev
eval-real: setup  ## line roles and grouping on real pages against realdev's gold (not in `make test`)
	.venv/bin/python -m bench.real --realdev $(REALDEV) --split $(SPLIT)

eval-pages: setup  ## line roles on our hand-written pages in today's layouts (tests/fixtures/pages)
	.venv/bin/python -m bench.pages

# Rebuilds tasks/articles/rolemodel/line_roles.json.gz from realdev's dev split, the seeds and a synthetic corpus,
# and prints the dev split's figures cross-validated by site (tasks/articles/rolemodel/README.md).
train: setup  ## retrain the line-role model (deterministic; needs REALDEV)
	.venv/bin/python -m flows.train --realdev $(REALDEV)
