# telemetryd — `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

NEO4J_PORT ?= 7687
export NEO4J_PORT

BIN := bin
GO_TEST_FLAGS ?= -count=1 -timeout 20m

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build telemetryd and telemetryctl into ./bin
	go build -o $(BIN)/ ./cmd/...

.PHONY: run
run: build ## Serve on the embedded store in ./data at 127.0.0.1:8080
	$(BIN)/telemetryd serve --data-dir ./data --listen 127.0.0.1:8080

.PHONY: test
test: ## Run every test, starting the development Neo4j unless NEO4J_URI is set
	NEO4J_ROUTING_TEST="$(GO_TEST_FLAGS) ./store/neo4j/ ./server/" tools/test.sh $(GO_TEST_FLAGS) ./...

FUZZTIME ?= 60s
FUZZPARALLEL ?= 1
FUZZTIMEOUT ?= 20m

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (60s) with FUZZPARALLEL (1) workers
	FUZZTIME=$(FUZZTIME) FUZZPARALLEL=$(FUZZPARALLEL) FUZZTIMEOUT=$(FUZZTIMEOUT) tools/fuzz.sh

SOAKTIME ?= 10m

.PHONY: soak
soak: build ## Drive a real telemetryd with 16 clients for SOAKTIME (10m) per backend (Neo4j with NEO4J_URI)
	go run ./tools/soak -telemetryd $(BIN)/telemetryd -duration $(SOAKTIME)

.PHONY: lint
lint: ## gofmt, go vet and staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	go vet ./...
	go tool staticcheck ./...

.PHONY: ui
ui: ## Rebuild the web console into console/dist from ui/ (needs Node.js and npm)
	cd ui && npm ci --no-audit --no-fund && node build.mjs

.PHONY: generate
generate: ## Regenerate the GraphQL code from schema.graphqls
	go tool gqlgen generate
	go run ./tools/fastnodes

.PHONY: bench
bench: build ## Measure REST and GraphQL pages against a static server (wrk), and export against a file copy; then the receiver (tools/fleetbench)
	@command -v wrk >/dev/null || { echo "make bench needs wrk: sudo apt-get install wrk (Debian, Ubuntu) or brew install wrk (macOS)"; exit 1; }
	go run ./tools/bench -telemetryd $(BIN)/telemetryd
	go run ./tools/fleetbench -telemetryd $(BIN)/telemetryd

.PHONY: neo4j-start
neo4j-start: ## Start the development Neo4j on bolt://127.0.0.1:$NEO4J_PORT (idempotent)
	tools/neo4j/neo4j-start.sh

.PHONY: neo4j-stop
neo4j-stop: ## Stop the development Neo4j
	tools/neo4j/neo4j-stop.sh

.PHONY: clean
clean: neo4j-stop ## Stop the development Neo4j and remove built binaries and its data
	rm -rf $(BIN) tools/neo4j/target .neo4j
