# archbench: the front door. `make help` lists the targets.
# `make bench` and `make test` create .venv and install the project when it is missing or stale.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUITE  ?= quick
RESULTS ?= results
ARGS   ?=
TEST_WORKERS ?= auto

.DEFAULT_GOAL := help
.PHONY: help install bench sweep report leaderboard compare perf tickets test lint new-arch check-arch clean

help: ## list the targets
	@echo "archbench: does architecture matter, or only data?"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables: SUITE=$(SUITE) RESULTS=$(RESULTS) ARGS='extra archbench flags'"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "archbench needs Python >= 3.11 (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install archbench with its test tools

bench: $(STAMP) ## train the default suite (quick), print the leaderboard, the verdict and the report's path
	$(BIN)/archbench sweep $(SUITE) --results-dir $(RESULTS) $(ARGS)
	$(BIN)/archbench report $(SUITE) --results-dir $(RESULTS)

sweep: $(STAMP) ## run a suite: make sweep SUITE=standard (SUITE=paper: the MNIST-1D paper's table)
	$(BIN)/archbench sweep $(SUITE) --results-dir $(RESULTS) $(ARGS)

report: $(STAMP) ## fit scaling curves, write the report and the verdict: make report SUITE=quick
	$(BIN)/archbench report $(SUITE) --results-dir $(RESULTS) $(ARGS)

leaderboard: $(STAMP) ## print the leaderboard of a suite (ARGS='--format html -o lb.html')
	$(BIN)/archbench leaderboard $(SUITE) --results-dir $(RESULTS) $(ARGS)

compare: $(STAMP) ## compare two results: make compare A=results/reference B=results
	@test -n "$(A)" -a -n "$(B)" || { echo "usage: make compare A=<folder|json|git-rev> B=<folder|json|git-rev>"; exit 2; }
	$(BIN)/archbench compare $(A) $(B) --suite $(SUITE) $(ARGS)

perf: $(STAMP) ## measure throughput, FLOP/s vs matmul peak, fused-loop and vmap speed-ups
	$(BIN)/archbench perf --results-dir $(RESULTS) $(ARGS)

tickets: $(STAMP) ## lottery tickets against random masks, then the report: make tickets SUITE=tickets
	$(BIN)/archbench tickets $(SUITE) --results-dir $(RESULTS) $(ARGS)
	$(BIN)/archbench report $(SUITE) --results-dir $(RESULTS)

new-arch: $(STAMP) ## write a template for a new family: make new-arch NAME=foo [DIR=folder outside the repo]
	@test -n "$(NAME)" || { echo "usage: make new-arch NAME=<family name> [DIR=<folder>]"; exit 2; }
	$(BIN)/archbench new-arch $(NAME) $(if $(DIR),--dir $(DIR))

check-arch: $(STAMP) ## run the architecture test matrix on a plugin: make check-arch PLUGIN=my_net.py [ARCH=name]
	@test -n "$(PLUGIN)$(ARCH)" || { echo "usage: make check-arch PLUGIN=<file.py or module> [ARCH=<family>]"; exit 2; }
	$(BIN)/archbench check-arch $(if $(PLUGIN),--plugin $(PLUGIN)) $(if $(ARCH),--arch $(ARCH)) $(ARGS)

test: $(STAMP) ## run the test suite, one pytest worker per core, idle workers taking queued tests (TEST_WORKERS=0: all in one process)
	$(BIN)/python -m pytest -q --durations=15 -n $(TEST_WORKERS) --dist worksteal $(ARGS)

lint: $(STAMP) ## ruff
	$(BIN)/ruff check architectures benchmarks tests

clean: ## remove the virtual environment, caches and your (uncommitted) results
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find $(RESULTS) -mindepth 1 -maxdepth 1 ! -name reference -exec rm -rf {} + 2>/dev/null || true
