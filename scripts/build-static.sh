#!/usr/bin/env bash
# Builds councild and councilctl as static Linux binaries into the directory
# given as the first argument: no cgo, so the binaries need no libc and run
# on a FROM scratch or distroless-static image. The container build runs
# this script; so do `make image-scratch` and the test in deploy/.
#
# REVISION and BUILD_TIME, when set, are stamped into --version (outside a
# Git checkout, as in a container build, Go cannot read the revision).
set -euo pipefail
out="${1:?usage: build-static.sh OUTDIR}"
revision="${REVISION:-$(git rev-parse HEAD 2>/dev/null || true)}"
build_time="${BUILD_TIME:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}"
pkg=github.com/councilhq/council/buildinfo
CGO_ENABLED=0 GOOS="${GOOS:-linux}" go build -trimpath -buildvcs=false \
	-ldflags "-s -w -X ${pkg}.revision=${revision} -X ${pkg}.buildTime=${build_time}" \
	-o "${out}/" ./cmd/councild ./cmd/councilctl
