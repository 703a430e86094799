# codecllm — the two README commands:
#   make demo   installs everything, fetches the default model, prints a greedy continuation and a perplexity
#   make test   installs what the tests need (same set-up) and runs the whole suite
SHELL := /bin/bash
NODE_BIN := node_modules/.bin
PROMPT ?= The capital of France is
DEMO_TEXT ?= data/texts/eval.txt

.PHONY: setup demo test build native typecheck test-only model clean

setup:
	bash scripts/setup.sh

build:
	$(NODE_BIN)/tsc -p tsconfig.json

native:
	bash scripts/build-native.sh

model:
	bash scripts/fetch-default-model.sh
	bash scripts/fetch-gemma3-model.sh

demo: setup
	node bin/codecllm.js info default
	node bin/codecllm.js generate default --prompt "$(PROMPT)" --max-tokens 32
	node bin/codecllm.js generate default --prompt "$(PROMPT)" --max-tokens 32 --engine native
	node bin/codecllm.js eval default --text $(DEMO_TEXT)

typecheck:
	$(NODE_BIN)/tsc -p tsconfig.json --noEmit

test-only:
	node --import tsx --test --test-concurrency=2 --test-reporter=spec test/*.test.ts

test: setup typecheck test-only

clean:
	rm -rf dist native/build reports
