# qml-ops: two commands.
#   make run   - build the environments if needed, then `dvc repro` on the embedded default
#   make test  - build the environments if needed, then the test suite
# Both are idempotent: environments are rebuilt only when pyproject.toml changes.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
DVC_ENV := .tools/dvc
DVC_VERSION := 3.67.1
# the S3 remote plugin (`dvc remote add ... s3://...`), tested with DVC_VERSION
DVC_S3_VERSION := 3.3.0
# the DVC environment is (re)built when these pins change
DVC_STAMP := $(DVC_ENV)/.installed-dvc-$(DVC_VERSION)-s3-$(DVC_S3_VERSION)
# The CPU wheel; a looser torch pin pulls a multi-GB CUDA build.
TORCH := torch==2.13.0
PIP_FLAGS := --quiet --disable-pip-version-check
# pip configurations that list unreachable extra indexes print one warning per package
QUIET := 2>&1 | { grep -v '^WARNING: Location' || true; }

.PHONY: run test env clean-env params-check ui

env: $(VENV)/.installed $(DVC_STAMP)

$(VENV)/.installed: pyproject.toml
	@echo ">> project environment ($(VENV))"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip $(QUIET)
	@$(VENV)/bin/python -m pip install $(PIP_FLAGS) $(TORCH) $(QUIET)
	@$(VENV)/bin/python -m pip install $(PIP_FLAGS) -e '.[test]' $(QUIET)
	@touch $@

# DVC gets its own tool environment: DVC (via hydra) and Braket's default
# simulator pin different antlr4-python3-runtime versions.
$(DVC_STAMP):
	@echo ">> DVC tool environment ($(DVC_ENV))"
	@mkdir -p .tools
	@test -x $(DVC_ENV)/bin/python || $(PYTHON) -m venv $(DVC_ENV)
	@$(DVC_ENV)/bin/python -m pip install $(PIP_FLAGS) 'dvc==$(DVC_VERSION)' 'dvc-s3==$(DVC_S3_VERSION)' $(QUIET)
	@touch $@

run: env
	@$(VENV)/bin/qml-ops params check   # every params error at once, before any stage runs
	@scripts/dvc repro
	@echo
	@echo "Results:"
	@echo "  metrics:  scripts/dvc metrics show   (files under metrics/)"
	@echo "  plots:    scripts/dvc plots show     (writes dvc_plots/index.html)"
	@echo "  MLflow:   make ui   (or .venv/bin/qml-ops ui --port 5000)"
	@echo "  data:     data/prepared, data/encoded (versions in dvc.lock)"

test: env
	@$(VENV)/bin/python -m pytest

# the MLflow UI on this project's runs (PORT=5001 make ui for another port)
ui: $(VENV)/.installed
	@$(VENV)/bin/qml-ops ui $(if $(PORT),--port $(PORT))

params-check: $(VENV)/.installed
	@$(VENV)/bin/qml-ops params check

clean-env:
	rm -rf $(VENV) .tools
