# Qiao (桥) — make help lists the targets.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN := bin/qiao

.PHONY: help build test lint generate generate-check bench demo clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build bin/qiao
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/qiao

test: ## Run every test (needs openssl; see .ci/run)
	$(GO) test -count=1 ./...

lint: ## gofmt, go vet, staticcheck and buf lint
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) tool buf lint

generate: ## Regenerate gen/ from api/ (offline: plugins are go.mod tools)
	$(GO) tool buf generate

generate-check: generate ## Fail if gen/ differs from what api/ generates
	@git diff --exit-code -- gen/ && test -z "$$(git status --porcelain -- gen/)" || { echo "gen/ is stale: run make generate and commit"; exit 1; }

bench: ## Run the benchmarks, each beside its reference
	$(GO) test -run '^$$' -bench . -benchmem ./... | tee bench.out

demo: build ## A deployment in a temporary directory: the gateway runs, police push, the audit log verifies
	@dir=$$(mktemp -d -t qiao-demo-XXXX) && \
	./$(BIN) init --dir $$dir && \
	./$(BIN) config check --config $$dir/qiao.yaml && \
	./$(BIN) demo --dir $$dir

clean: ## Remove build output
	rm -rf bin bench.out
