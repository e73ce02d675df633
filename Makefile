# Factstore. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
GOLANGCI_LINT_VERSION := v2.15.0
GOBIN := $(shell $(GO) env GOPATH)/bin
GOLANGCI_LINT := $(GOBIN)/golangci-lint
BENCH_RUNS ?= 3
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build ## Start the server: embedded NATS JetStream and bbolt under ./data, HTTP on :8080
	./bin/factstore serve --data-dir ./data

.PHONY: build
build: ## Build bin/factstore
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/factstore ./cmd/factstore

.PHONY: test
test: ## go vet, then every test with the race detector
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

.PHONY: test-short
test-short: ## Quick loop: tests without -race, skipping the slow ones
	$(GO) test -short -count=1 ./...

FUZZ_TIME ?= 30s
.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZ_TIME each (decoders at trust boundaries)
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZ_TIME) $$pkg || exit 1; \
		done; \
	done

.PHONY: bench
bench: ## Benchmark harness: one table per run, BENCH_RUNS runs, medians last
	$(GO) run ./test/bench -runs $(BENCH_RUNS)

.PHONY: lint
lint: $(GOLANGCI_LINT) ## golangci-lint (installs the pinned version if missing), and go.mod tidy
	$(GOLANGCI_LINT) run ./...
	$(GO) mod tidy -diff

$(GOLANGCI_LINT):
	GOFLAGS=-buildvcs=false $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

.PHONY: fmt
fmt: ## gofmt every Go file
	gofmt -w $$(git ls-files '*.go')

.PHONY: clean
clean: ## Remove build output (not ./data)
	rm -rf bin
