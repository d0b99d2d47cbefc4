#!/usr/bin/env bash
# End-to-end tracing test: builds Jaeger all-in-one from the tools/jaeger
# module (a few minutes the first time, then served from Go's build cache),
# then runs the "jaeger"-tagged test, which starts Jaeger on free loopback
# ports, runs one consultation exported over OTLP and checks the trace
# through Jaeger's /api/traces.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
JAEGER_BIN=$(go tool -modfile=tools/jaeger/go.mod -n jaeger)
echo "jaeger binary ready after $((SECONDS - start))s"
export JAEGER_BIN
export JAEGER_CONFIG="$PWD/tools/jaeger/config.yaml"
go test -race -count=1 -tags jaeger -v ./e2e/jaeger/
