#!/usr/bin/env bash
# The TypeScript client (clients/ts) against a real councild: installs the
# npm packages package-lock.json pins (npm ci), generates the API's code
# from proto/ with protoc-gen-es and compiles the client with tsc (npm run
# build), then starts councild with simulated models and runs one
# consultation through the client (it must end with the final answer and
# exit 0) and one blank question (it must exit 1 with INVALID_ARGUMENT
# naming the field). Needs Node.js 18.14.1 or later and npm
# (scripts/install-deps.sh installs Debian's). Expects bin/councild (make
# build). Prints how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tmp=$root/.tmp/ts-client
rm -rf "$tmp" && mkdir -p "$tmp"
echo "node $(node --version), npm $(npm --version)"

step() { echo "--- $1 (${SECONDS}s so far)"; }
start=$SECONDS

step "npm ci"
(cd clients/ts && npm ci --no-audit --no-fund --loglevel=error)

step "protoc-gen-es and tsc"
(cd clients/ts && rm -rf dist && npm run --silent build)

step "councild"
log=$tmp/councild.log
COUNCIL_PROVIDER=sim COUNCIL_SIM_SCALE=0.05 bin/councild -addr 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
addr=
for _ in $(seq 200); do
	addr="$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$log")"
	if [[ -n "$addr" ]] || ! kill -0 $pid 2>/dev/null; then break; fi
	sleep 0.1
done
if [[ -z "$addr" ]]; then
	echo "councild did not start:" >&2
	cat "$log" >&2
	exit 1
fi

step "consult"
if ! node clients/ts/dist/consult.js --addr "$addr" --tier speed "Why is the sky blue?" >"$tmp/out" 2>"$tmp/err"; then
	echo "the consultation failed:" >&2
	cat "$tmp/out" "$tmp/err" >&2
	exit 1
fi
cat "$tmp/out"
for want in "tier SPEED" "[collect] " "[review] " "[synthesize] final answer by " "completed in "; do
	if ! grep -qF -- "$want" "$tmp/out"; then
		echo "the client's output lacks \"$want\"" >&2
		exit 1
	fi
done

step "a blank question"
rc=0
node clients/ts/dist/consult.js --addr "$addr" "   " >"$tmp/out" 2>"$tmp/err" || rc=$?
cat "$tmp/err"
if ((rc != 1)) || ! grep -qF "InvalidArgument" "$tmp/err" || ! grep -qF "field query:" "$tmp/err" || ! grep -qF "reason INVALID_REQUEST" "$tmp/err"; then
	echo "a blank question: exit code $rc, want 1 with InvalidArgument, its reason and the field" >&2
	exit 1
fi
echo "ts client test passed in $((SECONDS - start))s"
