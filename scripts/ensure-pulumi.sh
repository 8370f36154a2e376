#!/usr/bin/env bash
# Builds the Pulumi CLI from the Go module proxy (it cannot be downloaded
# here) into a cache outside the repository, keyed by version, and prints
# the root directory: the CLI is ROOT/bin/pulumi (the layout the Automation
# API expects). A second run reuses the build.
set -euo pipefail
export PATH="/usr/local/go/bin:$PATH"
VERSION="${PULUMI_VERSION:-v3.274.1}"
CACHE="${SHOAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shoal}/pulumi/$VERSION"
if [ -x "$CACHE/bin/pulumi" ] && "$CACHE/bin/pulumi" version 2>/dev/null | grep -q "${VERSION#v}"; then
  echo "$CACHE"
  exit 0
fi
mkdir -p "$CACHE"
# One build per machine: a concurrent run waits for the first one.
exec 9>"$CACHE/.build.lock"
flock 9
if [ -x "$CACHE/bin/pulumi" ] && "$CACHE/bin/pulumi" version 2>/dev/null | grep -q "${VERSION#v}"; then
  echo "$CACHE"
  exit 0
fi
echo "ensure-pulumi: building the Pulumi CLI $VERSION from the Go module proxy (a few minutes, once per machine)" >&2
work=$(mktemp -d)
log="$work/build.log"
progress=""
cleanup() { [ -n "$progress" ] && kill "$progress" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# The go tool's download lines go to the log; a line every 30 s says how long it has been.
start=$(date +%s)
( exec >/dev/null 9>&-
  # sleep gets no inherited stream: a caller reading ours through $(...) is not kept waiting by it
  while sleep 30 </dev/null 2>/dev/null; do
    echo "ensure-pulumi: still building ($(( $(date +%s) - start ))s; $(grep -c '^go: downloading' "$log" 2>/dev/null || true) modules fetched)" >&2
  done ) &
progress=$!
mkdir -p "$CACHE/bin"
cd "$work"
build() {
  go mod init pulumi-cli-build &&
  go mod edit -require "github.com/pulumi/pulumi/pkg/v3@$VERSION" -require "github.com/pulumi/pulumi/sdk/v3@$VERSION" \
    -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e &&
  GOFLAGS=-mod=mod go build -o "$CACHE/bin/pulumi.tmp" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}
if ! build >"$log" 2>&1; then
  echo "ensure-pulumi: the build failed after $(( $(date +%s) - start ))s; the last lines of its log:" >&2
  grep -v '^go: downloading' "$log" | tail -n 30 >&2
  exit 1
fi
mv "$CACHE/bin/pulumi.tmp" "$CACHE/bin/pulumi"
echo "ensure-pulumi: built $("$CACHE/bin/pulumi" version) in $(( $(date +%s) - start ))s" >&2
echo "$CACHE"
