#!/usr/bin/env bash
# Builds HashiCorp Vault from the Go module proxy (no release download here)
# into a cache outside the repository, keyed by version, and prints the
# directory holding `vault`. A second run reuses the build and is instant.
# Recipe: ../shared/lab.md, section "Vault" (v1.21.0: the .0 release is the
# one whose sdk versions match its source).
set -euo pipefail
export PATH="/usr/local/go/bin:$PATH"
VERSION="${VAULT_VERSION:-v1.21.0}"
CACHE="${SHOAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shoal}/vault/$VERSION"

# --print-dir: print the directory the binary is (or will be) in, build nothing.
if [ "${1:-}" = "--print-dir" ]; then echo "$CACHE"; exit 0; fi

ready() { [ -x "$CACHE/vault" ] && "$CACHE/vault" version 2>/dev/null | grep -q "Vault ${VERSION}"; }

if ready; then echo "$CACHE"; exit 0; fi
mkdir -p "$CACHE"
# One build per machine: a concurrent run waits for the first one.
exec 9>"$CACHE/.build.lock"
flock 9
if ready; then echo "$CACHE"; exit 0; fi

echo "ensure-vault: building Vault $VERSION (about 8 minutes and 3.4 GB of modules, once per machine)" >&2
work=$(mktemp -d)
start=$(date +%s)
# A line a minute says how long it has been (the build is silent for minutes).
( exec >/dev/null 9>&-
  while sleep 60 </dev/null 2>/dev/null; do
    echo "ensure-vault: still building ($(( $(date +%s) - start ))s)" >&2
  done ) &
progress=$!
trap 'kill "$progress" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
export GOTOOLCHAIN=local GONOSUMDB=github.com/hashicorp/vault-plugin-database-snowflake
unset GOFLAGS
go mod init vault-build >/dev/null 2>&1
go mod edit -replace github.com/99designs/keyring=github.com/Jeffail/keyring@v1.2.3 \
            -replace github.com/ma314smith/signedxml@v1.1.1=github.com/moov-io/signedxml@v1.1.1
# The go tool's ~600 download lines are summed up, not printed.
GOFLAGS=-mod=mod go get "github.com/hashicorp/vault@$VERSION" 2>"$work/get.log" ||
  { echo "ensure-vault: go get failed; the last lines of its log:" >&2; grep -v '^go: downloading' "$work/get.log" | tail -n 30 >&2; exit 1; }
echo "ensure-vault: modules fetched ($(grep -c '^go: downloading' "$work/get.log" || true)) after $(( $(date +%s) - start ))s, compiling" >&2
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags='-s -w' -o "$CACHE/vault.tmp" github.com/hashicorp/vault >&2
mv "$CACHE/vault.tmp" "$CACHE/vault"
echo "ensure-vault: built $("$CACHE/vault" version) in $(( $(date +%s) - start ))s" >&2
ready || { echo "ensure-vault: built binary does not report Vault $VERSION" >&2; exit 1; }
echo "$CACHE"
