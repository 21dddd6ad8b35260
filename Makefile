# qwen3lab: `make run` executes the notebooks, `make test` tests them. Both set up .venv first.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := help

PYTHON    ?= python3
VENV      := .venv
# the caller's PY, before the line below shadows it: `PY=python3 make test-gpu` on a GPU machine
# without .venv (make would otherwise hand the script its own PY, which does not exist there)
CALLER_PY := $(PY)
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
PROFILE   ?= tiny
QUIET     := 2>&1 | { grep -v 'is ignored: it is neither' || true; }
NOTEBOOKS ?= $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
TEST_HOME := $(CURDIR)/artifacts-test

export QWEN3LAB_PROFILE := $(PROFILE)
ifdef CONFIG
export QWEN3LAB_CONFIG := $(abspath $(CONFIG))
endif
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export UNSLOTH_AUTO_INSTALL := 0
export TOKENIZERS_PARALLELISM := false

.PHONY: help setup run handout publish-handout test test-unit test-notebooks test-browser chromium test-gpu rehearsal-hub rehearse-cpu lab refresh-outputs bench bench-data train-ddp bench-ddp lock clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'
	@echo "  PROFILE=tiny|full (default tiny); CONFIG=my.toml overrides config fields; QWEN3LAB_HOME moves the artifacts root"

setup: $(STAMP) ## create .venv and install everything (done once; later calls are instant)

# llama.cpp for 08_export: llama-cpp-python is built from its source distribution (the first time
# 8 to 21 minutes on 2 cores, then pip's wheel cache), for any x86-64 CPU with AVX2 rather than
# -march=native (the cached wheel then runs on other machines too), without the multimodal
# library; the same sdist's convert_hf_to_gguf.py, conversion/ and gguf-py/ go to LLAMA_SRC,
# where qwen3lab.find_converter looks. A CUDA build: LLAMA_CMAKE_ARGS=-DGGML_CUDA=on (README).
LLAMA_CPP_PYTHON := $(shell sed -n 's/^llama_cpp_python==//p' constraints.txt)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
LLAMA_SRC        := $(VENV)/src/llama.cpp-$(LLAMA_CPP_PYTHON)
LLAMA_SDIST      := llama_cpp_python-$(LLAMA_CPP_PYTHON)

# torch first from its pinned CPU build, then the stack under the lock file, then Unsloth
# without its dependencies (they would pull triton/xformers/torchvision and break the import).
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24" setuptools wheel $(QUIET)
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0 $(QUIET)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install -q -c constraints.txt -e ".[notebooks,test,gguf]" $(QUIET)
	$(PY) -m pip install -q -c constraints.txt --no-deps unsloth==2026.10.9 unsloth_zoo==2026.10.9 $(QUIET)
	rm -rf $(LLAMA_SRC) && mkdir -p $(LLAMA_SRC)
	$(PY) -m pip download -q --no-deps --no-binary llama-cpp-python -d $(LLAMA_SRC) llama-cpp-python==$(LLAMA_CPP_PYTHON) $(QUIET)
	tar -xzf $(LLAMA_SRC)/$(LLAMA_SDIST).tar.gz -C $(LLAMA_SRC) --strip-components=3 \
	    $(addprefix $(LLAMA_SDIST)/vendor/llama.cpp/,convert_hf_to_gguf.py conversion gguf-py)
	rm $(LLAMA_SRC)/$(LLAMA_SDIST).tar.gz
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (qwen3lab)" >/dev/null
	@touch $@

run: $(STAMP) ## execute every notebook in order (PROFILE=tiny|full, CONFIG=my.toml); copies go to <artifacts>/notebooks
	$(PY) tools/run_notebooks.py $(NOTEBOOKS)

handout: $(STAMP) ## execute the series and write it with every output as notebooks + HTML to <artifacts>/handout
	$(PY) tools/run_notebooks.py --handout $(NOTEBOOKS)

HANDOUT_HOME := $(CURDIR)/artifacts-handout
publish-handout: $(STAMP) ## execute the series (tiny profile) and store it with every output in docs/handout/
	rm -rf $(HANDOUT_HOME)
	QWEN3LAB_CONFIG= QWEN3LAB_PROFILE=tiny QWEN3LAB_HOME=$(HANDOUT_HOME) $(PY) tools/run_notebooks.py --handout $(NOTEBOOKS)
	rm -rf docs/handout.tmp && mkdir -p docs/handout.tmp
	cp $(HANDOUT_HOME)/handout/[0-9][0-9]_*.ipynb docs/handout.tmp/
	rm -rf docs/handout && mv docs/handout.tmp docs/handout

test: $(STAMP) ## unit tests + every notebook under nbval, tiny profile, CPU
	rm -rf $(TEST_HOME)
	QWEN3LAB_CONFIG= QWEN3LAB_PROFILE=tiny QWEN3LAB_HOME=$(TEST_HOME) $(PY) -m pytest -q tests --ignore=tests/test_browser.py
	QWEN3LAB_CONFIG= QWEN3LAB_PROFILE=tiny QWEN3LAB_HOME=$(TEST_HOME) $(PY) -m pytest -q --nbval-lax --nbval-current-env notebooks

test-unit: $(STAMP) ## unit and pipeline tests only
	QWEN3LAB_CONFIG= QWEN3LAB_PROFILE=tiny QWEN3LAB_HOME=$(TEST_HOME) $(PY) -m pytest -q tests --ignore=tests/test_browser.py

test-notebooks: $(STAMP) ## notebooks under nbval only
	QWEN3LAB_CONFIG= QWEN3LAB_PROFILE=tiny QWEN3LAB_HOME=$(TEST_HOME) $(PY) -m pytest -q --nbval-lax --nbval-current-env notebooks

test-gpu: ## every notebook under nbval on a CUDA machine with Unsloth (see docs/gpu.md)
	PY="$(CALLER_PY)" bash tools/test_gpu.sh

REHEARSE_HOME ?= $(CURDIR)/artifacts-rehearse
JOBS ?= 2
rehearse-cpu: $(STAMP) ## the full profile's code path, every notebook, on a CPU in minutes (tiny-shaped rehearsal hub; JOBS=2)
	rm -rf $(REHEARSE_HOME)
	$(PY) tools/rehearsal_hub.py --hf-home $(REHEARSE_HOME)/hf --shape tiny
	HF_HOME=$(REHEARSE_HOME)/hf HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 QWEN3LAB_PROFILE= QWEN3LAB_HOME=$(REHEARSE_HOME)/artifacts \
	  $(PY) -m qwen3lab run --config tools/rehearse_cpu.toml --jobs $(JOBS)

SHAPE ?= full
rehearsal-hub: ## write the offline rehearsal hub of the full profile into HF_HOME=DIR (SHAPE=full|tiny; docs/gpu.md)
	@test -n "$(HF_HOME)" || { echo "make rehearsal-hub needs HF_HOME=DIR, e.g. HF_HOME=/dev/shm/qwen3lab-hf"; exit 2; }
	$(BENCH_PY) tools/rehearsal_hub.py --hf-home "$(HF_HOME)" --shape $(SHAPE)

refresh-outputs: $(STAMP) ## re-execute the notebooks and keep only the outputs of checked cells
	QWEN3LAB_CONFIG= QWEN3LAB_PROFILE=tiny QWEN3LAB_HOME=$(TEST_HOME) $(PY) tools/run_notebooks.py --refresh $(NOTEBOOKS)

LAB_DIR ?= notebooks
# root is what a GPU cloud box or a container often gives: JupyterLab refuses it without --allow-root
lab: $(STAMP) ## JupyterLab with the project's kernel (LAB_DIR=notebooks)
	$(VENV)/bin/jupyter lab $(LAB_DIR) $(if $(filter 0,$(shell id -u)),--allow-root)

# `make lab` in headless Chromium (tests/test_browser.py): Playwright from PyPI drives Debian's
# chromium; nothing is downloaded at run time. Both installs are skipped once done.
BROWSER_STAMP := $(VENV)/.browser-installed
$(BROWSER_STAMP): $(STAMP)
	$(PY) -m pip install -q -c constraints.txt -e ".[browser]" $(QUIET)
	@touch $@

test-browser: $(BROWSER_STAMP) chromium ## `make lab` in headless Chromium: 02 runs, its chat panel answers (prints the time)
	QWEN3LAB_CONFIG= $(PY) -m pytest -q tests/test_browser.py

# a CJK font too (1.6 MB), for the Chinese of the panels in the screenshot
BROWSER_DEBS := chromium fonts-wqy-microhei
chromium: ## install Debian's chromium for test-browser, unless it is there (apt-get, as root)
	@command -v chromium >/dev/null && test -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc || { \
	  test "$$(id -u)" = 0 || { echo "make test-browser needs: sudo apt-get install $(BROWSER_DEBS)"; exit 2; }; \
	  echo "installing $(BROWSER_DEBS) (apt-get)"; export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends $(BROWSER_DEBS) >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $(BROWSER_DEBS) >/dev/null; }; }
	@chromium --version 2>/dev/null

bench-data: $(STAMP) ## the CPU data-pipeline benchmark (full-size synthetic data)
	$(PY) benchmarks/bench_data.py

BENCH_PY  = $(if $(wildcard $(PY)),$(PY),python3)
bench: ## the GPU training benchmark: a, b, c at 8192, c and c-bf16 at 2048 (profiled), b and c under 24 and 16 GiB (CUDA)
	$(BENCH_PY) benchmarks/bench_train.py --recipes c,b,a --max-seq-length 8192 --steps 12 --warmup 4 --out bench-8192.json
	$(BENCH_PY) benchmarks/bench_train.py --recipes c,c-bf16 --max-seq-length 2048 --steps 10 --warmup 3 --profile c --trace-dir bench-traces --out bench-2048.json
	$(BENCH_PY) benchmarks/trace_summary.py bench-traces/c-2048.json.gz
	$(BENCH_PY) benchmarks/bench_train.py --recipes c,b --memory-cap-gib 24 --steps 6 --warmup 2 --out bench-24gib.json
	$(BENCH_PY) benchmarks/bench_train.py --recipes c,b --memory-cap-gib 16 --steps 6 --warmup 2 --out bench-16gib.json

# notebook 05's own cells in every process of torchrun: DDP, one model per GPU (gloo on a CPU); docs/gpu.md
NPROC ?= 2
train-ddp: ## notebook 05's training data-parallel on NPROC GPUs (or CPU processes); DDP_ARGS=--keep-rows keeps 8 rows per step
	$(BENCH_PY) -m torch.distributed.run --standalone --nproc_per_node $(NPROC) tools/train_ddp.py $(DDP_ARGS)

bench-ddp: ## trained tokens/s of 05's training on 1 and NPROC GPUs, same recipe per GPU, and the scaling efficiency (CUDA)
	$(BENCH_PY) benchmarks/bench_ddp.py --nproc 1,$(NPROC) --keep-rows --out bench-ddp.json

lock: $(STAMP) ## rewrite constraints.txt from the installed environment
	{ sed -n '1,2p' constraints.txt; $(PY) -m pip freeze --exclude-editable | grep -v '^torch==' ; echo 'torch==2.13.0'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean: ## remove the artifacts (not .venv)
	rm -rf artifacts artifacts-test swanlog
