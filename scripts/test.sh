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
# Vault builds in the background (cold: the longest build) while everything
# that does not need it runs; vaulttest waits for the status file.
SHOAL_VAULT_BIN="$(scripts/ensure-vault.sh --print-dir)/vault"; export SHOAL_VAULT_BIN
vault_status="$(mktemp)"; rm -f "$vault_status"; export SHOAL_VAULT_BUILD_STATUS="$vault_status"
# Its own process group (setsid), so that it is stopped with everything it
# started if the tests end first.
setsid bash -c 'st=0; scripts/ensure-vault.sh >/dev/null || st=$?
  echo "test.sh: the Vault build ended with status $st" >&2
  echo "$st" >"$1.tmp" && mv "$1.tmp" "$1"' vault-build "$vault_status" &
vault_build=$!
# `|| true`: under set -e a failing kill (the build already ended) would
# turn the trap, and so the whole run, into exit 1.
trap 'kill -- "-$vault_build" 2>/dev/null || true; rm -f "$vault_status"' EXIT
go vet ./...; phase vet
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
phase gofmt
SHOAL_PULUMI_DIR="$(scripts/ensure-pulumi.sh)"; export SHOAL_PULUMI_DIR # Pulumi CLI for shoal up tests (built once per machine)
phase pulumi-cli
# -p 1: lab tests of several packages would otherwise share 2 cores at once.
# go test runs packages in the order given: the ones with Vault tests last,
# so a cold Vault build overlaps the others.
vault_pkgs="./infra/provider ./stacks/vault ./cmd/shoal"
others=$(go list ./... | sed 's|^github.com/shoalops/shoal|.|' | grep -vxF -e ./infra/provider -e ./stacks/vault -e ./cmd/shoal)
status=0
go test -p 1 -count=1 -timeout 70m $others $vault_pkgs "$@" || status=$?
phase tests
exit $status
