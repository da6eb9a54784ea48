# Set-up and entry points. `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo demo-quick demo-tools test lint tools images venv down clean train-typer

# The package and its runtime dependencies: all that the demo runs (operator, workers with the rules backend,
# node agent). The test and serving extras (torch through NeMo, several GB of wheels) come with `venv`.
$(VENV)/.core: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=...)")'
	@echo "==> Python environment $(VENV): pip install of the package (one-time; about 1 min on a cold machine)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed: $(VENV)/.core
	@echo "==> Python environment $(VENV): the test and serving extras (one-time; several minutes on a cold machine)"
	$(BIN)/pip install --quiet -e '.[test,serving]'
	$(BIN)/pip install --quiet --no-deps 'nvidia-pytriton==0.7.0'
	touch $@

venv: $(VENV)/.installed

# Builds etcd, Kubernetes, kwok, helm, promtool, amtool, prometheus, alertmanager and Kueue from Go modules once
# (cached outside the repo), up to 3 at a time.
tools: venv
	$(BIN)/portalis-dev build

# Builds the container images of images/ with buildah (installs buildah and mmdebstrap with apt-get when
# missing), cached on their inputs, and exports OCI archives to build/images/. IMAGES="operator worker triton-cpu" picks others.
IMAGES ?=
images: venv
	$(BIN)/portalis-dev images $(IMAGES)

# Only the Go tools the demo runs (etcd, Kubernetes, kwok); the toolchain module needs nothing but the standard
# library, so this runs while pip is still filling the venv. The test-only tools are left to `make test`.
DEMO_TOOLS := kubernetes etcd kwok
demo-tools:
	@PYTHONPATH=localcluster/src $(PYTHON) -m portalis_dev.toolchain $(DEMO_TOOLS)

# The story of the mission on the embedded default (docs/demo.md): the local control plane, a pool whose
# nodes the node agent serves (Cluster API machines), the operator and two jobs: a normal job starts on
# spot, a critical job preempts it, the pool scales out at 75% spot, a spot node is reclaimed under a
# worker, both jobs succeed and their crates build; every step is checked (tests/e2e/test_story_demo.py
# plays the same function). A cold first run installs the package and builds the demo's Go tools side by
# side (docs/demo.md has the measured time); the test and serving extras are left to `make test`.
demo:
	@$(MAKE) --no-print-directory -j2 $(VENV)/.core demo-tools
	$(BIN)/portalis-dev story

# The single sample job (examples/translationjob.yaml, 3 shards) and its crate (docs/demo.md).
demo-quick:
	@$(MAKE) --no-print-directory -j2 $(VENV)/.core demo-tools
	$(BIN)/portalis-dev demo

down: $(VENV)/.core
	$(BIN)/portalis-dev down

# The type model (docs/model.md): a training environment holding only the pinned typed packages of
# model_repo/tools/typer_packages.txt (--no-deps: exactly those), then CPU training on them and on the
# typeshed stubs that ship with mypy. Writes model_repo/typer/1/typer.nemo and its data card.
TYPER_VENV ?= .venv-typer
$(TYPER_VENV)/.installed: model_repo/tools/typer_packages.txt
	$(PYTHON) -m venv $(TYPER_VENV)
	$(TYPER_VENV)/bin/pip install --quiet --no-deps -r model_repo/tools/typer_packages.txt
	touch $@

train-typer: venv $(TYPER_VENV)/.installed
	$(BIN)/python model_repo/tools/train_typer.py \
	  --site "$$($(TYPER_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The whole suite: lint, types, unit, integration and e2e tests against a real control plane. The e2e
# tier runs on real kubelet nodes from the images of `make images` (as root); PORTALIS_E2E_NODES=agent
# runs it on the node agent instead, without images (tests/e2e/e2e_nodes.py).
# GPU tests are skipped here; tests/gpu/run_all.sh runs them on a machine with a GPU.
TEST_IMAGES := $(if $(filter agent,$(PORTALIS_E2E_NODES)),,images)
test: tools lint $(TEST_IMAGES)
	@set +e; $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; exit 1; fi; \
	exit $$rc

clean: down
	rm -rf .state
