#!/usr/bin/env bash
# README command 1: the whole cluster on the local hoster, through the same
# Pulumi program as `pulumi up` (Automation API): 3 managers on three
# simulated hosters + 2 workers as VPS containers, then its status.
# Extra arguments go to `shoal up`. `bin/shoal destroy --yes` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
scripts/ensure-engine.sh
SHOAL_PULUMI_DIR="$(scripts/ensure-pulumi.sh)"; export SHOAL_PULUMI_DIR
mkdir -p bin
go build -o bin/shoal ./cmd/shoal
# The repository's own project and stack (Pulumi.yaml, Pulumi.local.yaml),
# read and never written: a later `bin/shoal up` from here, or from anywhere
# with the same SHOAL_HOME, reaches the same stack. Its SSH key and state
# live in ${SHOAL_HOME:-~/.shoal}.
bin/shoal up --yes "$@"
echo
bin/shoal status
echo
echo "JSON status (bin/shoal status -o json):"
bin/shoal status -o json
