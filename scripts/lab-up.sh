#!/usr/bin/env bash
# README command 1: a whole lab cluster on this machine (3 managers on three
# simulated hosters + 2 workers), then its status. Extra arguments go to
# `shoal lab up` (e.g. --workers 4).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
scripts/ensure-engine.sh
mkdir -p bin
go build -o bin/shoal ./cmd/shoal
bin/shoal lab up "$@"
echo
echo "JSON status (bin/shoal status -o json):"
bin/shoal status -o json
