#!/usr/bin/env bash
# Installs the Debian packages the tests use when they are missing:
# redis-server (the tests start their own, on loopback ports).
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
if ((${#missing[@]})); then
	sudo=
	if ((EUID != 0)); then sudo=sudo; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
redis-server --version
