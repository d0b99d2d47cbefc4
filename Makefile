# Build, generate, lint, test and demo the council service.
# Tools (buf, protoc-gen-go, protoc-gen-go-grpc) come from tools/go.mod, so
# nothing needs installing and the only network used is the Go module proxy.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

BIN := bin
TMP := .tmp
BUF := go tool -modfile=tools/go.mod buf
JAEGER := go tool -modfile=tools/jaeger/go.mod jaeger
HELM := go tool -modfile=tools/helm/go.mod helm
DEMO_QUESTION ?= Why is the sky blue?

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "%-14s %s\n", $$1, $$2}'

# The build time and Git revision that --version prints; the version comes
# from the build information Go records (and the revision too, in a plain
# Git checkout).
LDFLAGS := -X github.com/councilhq/council/buildinfo.buildTime=$(shell date -u +%Y-%m-%dT%H:%M:%SZ) \
	-X github.com/councilhq/council/buildinfo.revision=$(shell git rev-parse HEAD 2>/dev/null)

.PHONY: build
build: ## Build councild and councilctl into bin/
	go build -buildvcs=auto -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/councild ./cmd/councilctl

.PHONY: generate
generate: ## Regenerate gen/ from proto/ with buf
	$(BUF) generate

.PHONY: checkgenerate
checkgenerate: ## Fail if regenerating would change gen/
	rm -rf $(TMP)/checkgenerate
	$(BUF) generate -o $(TMP)/checkgenerate
	@diff -r gen $(TMP)/checkgenerate/gen || { echo "gen/ is stale: run make generate" >&2; exit 1; }

.PHONY: lint
lint: ## buf lint, buf format, go vet and gofmt
	$(BUF) lint
	$(BUF) format -d --exit-code
	go vet ./...
	@unformatted="$$(find . -name '*.go' -not -path './.*' -print0 | xargs -0 gofmt -l)"; \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed:" >&2; echo "$$unformatted" >&2; exit 1; fi

.PHONY: test
test: build checkgenerate lint breaking helm ## Build, check generated code, lint, check the API for breaking changes, lint and render the Helm chart (building helm before the tests that run it), run every test with the race detector, then the soak tests without it
	go test -race -count=1 ./...
	go test -count=1 -run '^TestSoak' ./cmd/councilsoak

.PHONY: breaking
breaking: ## buf breaking: the API against BUF_AGAINST, else the last release tag, else the previous commit (skipped without one)
	scripts/buf-breaking.sh

.PHONY: test-ts
test-ts: build ## The TypeScript client (clients/ts, Node.js 18.14.1 or later) against councild: npm ci, protoc-gen-es, tsc, one consultation
	scripts/ts-client-test.sh

.PHONY: readme
readme: ## Regenerate the README's tables of councild's variables and flags from cmd/councild
	go test ./cmd/councild -run '^TestREADMESettings$$' -count=1 -update

.PHONY: helm
helm: ## helm lint and helm template of the chart in deploy/helm/councild (helm from tools/helm/go.mod)
	$(HELM) lint --strict deploy/helm/councild
	@mkdir -p $(TMP)
	$(HELM) template council deploy/helm/councild > $(TMP)/councild-chart.yaml
	@echo "rendered: $(TMP)/councild-chart.yaml"

.PHONY: demo
demo: build ## Start councild with simulated models, ask it one question, stop it
	@mkdir -p $(TMP); log=$(TMP)/demo-councild.log; \
	COUNCIL_PROVIDER=sim $(BIN)/councild -addr 127.0.0.1:0 >"$$log" 2>&1 & pid=$$!; \
	trap 'kill -TERM $$pid 2>/dev/null || true; wait $$pid 2>/dev/null || true' EXIT; \
	addr=; for _ in $$(seq 200); do \
		addr="$$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$$log")"; \
		if [[ -n "$$addr" ]] || ! kill -0 $$pid 2>/dev/null; then break; fi; \
		sleep 0.1; \
	done; \
	if [[ -z "$$addr" ]]; then echo "councild did not start:" >&2; cat "$$log" >&2; exit 1; fi; \
	echo "councild is listening on $$addr (log: $$log)"; \
	$(BIN)/councilctl --addr "$$addr" health --wait 30s >/dev/null; \
	$(BIN)/councilctl --addr "$$addr" consult "$(DEMO_QUESTION)"

FUZZTIME ?= 10s

.PHONY: fuzz
fuzz: ## Run every fuzz target (go test -list '^Fuzz') for FUZZTIME each (default 10s)
	@targets="$$(go test -list '^Fuzz' ./... | awk '/^Fuzz/ { names = names " " $$1; next } /^ok/ { n = split(names, f, " "); for (i = 1; i <= n; i++) print $$2, f[i]; names = "" }')"; \
	if [[ -z "$$targets" ]]; then echo "no fuzz targets found" >&2; exit 1; fi; \
	while read -r pkg name; do \
		echo "fuzzing $$name ($$pkg) for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 0 "$$pkg"; \
	done <<< "$$targets"

SOAK_FLAGS ?=

.PHONY: soak
soak: build ## Hold 1000 concurrent consultations for 60 s against councild (own process) and the fake upstream with 5% faults (SOAK_FLAGS to change)
	ulimit -n "$$(ulimit -Hn)"; go run ./cmd/councilsoak -councild $(BIN)/councild $(SOAK_FLAGS)

.PHONY: bench-cost
bench-cost: ## Cost caps of none, 75, 50 and 25 % of the uncapped cost against the fake upstream; the README cost table (about 10 s)
	go run ./cmd/councilbench-cost
	go run ./cmd/councilbench-cost -answer-tokens 128 -ranking-tokens 128 -synthesis-tokens 256

.PHONY: bench-limits
bench-limits: ## Measure rate-limit handling against rate-limited fake upstreams (about 15 s)
	go run ./cmd/councilbench-limits

BENCH_FLAGS ?=

.PHONY: bench-replicas
bench-replicas: build ## 1 and 3 councild replicas against one per-key-limited fake upstream, without and with Redis; the README replicas table (about 3 min)
	go run ./cmd/councilbench-replicas -councild $(BIN)/councild

.PHONY: bench
bench: build ## Latency, concurrency (10, 50, 100, 1000), memory and throughput of councild against a fake upstream; the README table (about 3 min)
	@mkdir -p $(TMP)
	go test -run '^$$' -bench '^BenchmarkConsult$$' -benchmem -count 1 ./orchestrator | tee $(TMP)/bench-orchestrator.txt
	ulimit -n "$$(ulimit -Hn)"; go run ./cmd/councilbench -councild $(BIN)/councild -orchestrator-bench $(TMP)/bench-orchestrator.txt $(BENCH_FLAGS)

.PHONY: bench-burst
bench-burst: build ## Shedding: the machine's capacity, then bursts of 1, 2 and 5 times it against adaptive admission; the README burst table (about 1 min)
	@mkdir -p $(TMP)
	ulimit -n "$$(ulimit -Hn)"; go run ./cmd/councilbench -burst -councild $(BIN)/councild $(BENCH_FLAGS)

.PHONY: bench-heavy-tail
bench-heavy-tail: build ## Tail latency with one heavy-tailed council model (300 ms + up to 3 s): p50/p99 with hedging and the straggler cut-off off and on; the README table (about 1 min)
	@mkdir -p $(TMP)
	ulimit -n "$$(ulimit -Hn)"; go run ./cmd/councilbench -heavy-tail -councild $(BIN)/councild $(BENCH_FLAGS)

.PHONY: jaeger
jaeger: ## Run Jaeger all-in-one on loopback (UI :16686, OTLP gRPC :4317); the first run builds it (minutes)
	$(JAEGER) --config file:tools/jaeger/config.yaml

.PHONY: test-jaeger
test-jaeger: ## End-to-end tracing: Jaeger + one consultation over OTLP, trace checked via /api/traces
	scripts/jaeger-e2e.sh

.PHONY: image
image: ## Build the container image councild:dev with Docker (Dockerfile: static build on distroless/static, non-root)
	docker build --build-arg REVISION="$$(git rev-parse HEAD)" -t councild:dev .

.PHONY: image-scratch
image-scratch: ## Build the FROM scratch image councild:scratch with buildah, no registry needed, and print its size
	rm -rf $(TMP)/image-scratch && mkdir -p $(TMP)/image-scratch
	scripts/build-static.sh $(TMP)/image-scratch
	cp deploy/passwd $(TMP)/image-scratch/
	buildah --storage-driver=vfs bud --quiet -f deploy/scratch.Dockerfile -t councild:scratch $(TMP)/image-scratch
	buildah --storage-driver=vfs images --format '{{.Name}}:{{.Tag}} {{.Size}}' councild:scratch

.PHONY: run
run: ## Run councild in the foreground, configured by the environment
	go run ./cmd/councild

.PHONY: clean
clean: ## Remove build and check outputs
	rm -rf $(BIN) $(TMP)
