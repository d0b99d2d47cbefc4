#!/usr/bin/env bash
# Checks the API in proto/ for breaking changes (buf breaking, the FILE rules
# of buf.yaml) against a base: BUF_AGAINST when set (any Git revision), else
# the last release tag (v*) before HEAD, else the previous commit (HEAD~1;
# on main, the previous commit on main). The base is read with git archive,
# so a worktree works as well as a clone. Without a base (not a Git
# checkout, a shallow clone of one commit, the first commit) it says so and
# passes.
set -euo pipefail
cd "$(dirname "$0")/.."
buf=(go tool -modfile=tools/go.mod buf)

if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "buf breaking: skipped, not a Git checkout"
	exit 0
fi
base=${BUF_AGAINST:-}
what="BUF_AGAINST"
if [[ -z "$base" ]] && git rev-parse -q --verify 'HEAD~1^{commit}' >/dev/null; then
	if tag=$(git describe --tags --abbrev=0 --match 'v[0-9]*' 'HEAD~1' 2>/dev/null); then
		base=$tag what="the last release tag"
	else
		base=HEAD~1 what="the previous commit"
	fi
fi
if [[ -z "$base" ]]; then
	if [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
		echo "buf breaking: skipped, this shallow clone holds no commit before HEAD (fetch more history: git fetch --deepen=1)"
	else
		echo "buf breaking: skipped, HEAD is the first commit"
	fi
	exit 0
fi
if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
	echo "buf breaking: $base ($what) is not a commit of this repository" >&2
	exit 1
fi
if ! git cat-file -e "$base:buf.yaml" 2>/dev/null || ! git cat-file -e "$base:proto" 2>/dev/null; then
	echo "buf breaking: skipped, $base ($what) has no buf.yaml and proto/"
	exit 0
fi
echo "buf breaking against $base ($what, $(git rev-parse --short "$base"))"
git archive "$base" buf.yaml proto | "${buf[@]}" breaking --against '-#format=tar'
