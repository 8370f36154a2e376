#!/usr/bin/env bash
# README command 2: every test, lab ones included, on this machine.
# The lab tests need Docker Engine, which ensure-engine installs and starts.
# `go test -short ./...` alone runs the pure tests in seconds, with no Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
scripts/ensure-engine.sh
go vet ./...
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
SHOAL_PULUMI_DIR="$(scripts/ensure-pulumi.sh)"; export SHOAL_PULUMI_DIR # Pulumi CLI for shoal up tests (built once per machine)
SHOAL_VAULT_BIN="$(scripts/ensure-vault.sh)/vault"; export SHOAL_VAULT_BIN # real Vault dev server for stacks/vault (built once per machine)
# -p 1: lab tests of several packages would otherwise share 2 cores at once.
go test -p 1 -count=1 -timeout 45m ./... "$@"
