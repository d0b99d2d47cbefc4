#!/usr/bin/env bash
# Installs the Debian packages the tests use when they are missing:
# redis-server (the tests start their own, on loopback ports), and nodejs
# and npm for the TypeScript client's test (make test-ts; Debian 12's
# Node.js 18 is new enough, the client's packages are pinned to versions
# that support it).
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
	sudo=
	if ((EUID != 0)); then sudo=sudo; fi
	start=$SECONDS
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
	echo "installed ${missing[*]} in $((SECONDS - start))s"
fi
redis-server --version
echo "node $(node --version), npm $(npm --version)"
