#!/usr/bin/env bash
# README command 2: every test, lab ones included, on this machine.
# The lab tests need Docker Engine, which ensure-engine installs and starts.
# `go test -short ./...` alone runs the pure tests in seconds, with no Docker.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
# Each phase prints how long it took, so a slow CI run says where the time went.
t0=$(date +%s); phase_start=$t0
phase() { local now; now=$(date +%s); echo "test.sh: phase $1 took $((now - phase_start))s (total $((now - t0))s)" >&2; phase_start=$now; }
scripts/ensure-engine.sh; phase engine
go vet ./...; phase vet
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
phase gofmt
SHOAL_PULUMI_DIR="$(scripts/ensure-pulumi.sh)"; export SHOAL_PULUMI_DIR # Pulumi CLI for shoal up tests (built once per machine)
phase pulumi-cli
SHOAL_VAULT_BIN="$(scripts/ensure-vault.sh)/vault"; export SHOAL_VAULT_BIN # real Vault dev server for stacks/vault (built once per machine)
phase vault
# -p 1: lab tests of several packages would otherwise share 2 cores at once.
status=0
go test -p 1 -count=1 -timeout 50m ./... "$@" || status=$?
phase tests
exit $status
