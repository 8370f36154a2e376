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
echo "ensure-pulumi: building the Pulumi CLI $VERSION (a few minutes, once per machine)" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$CACHE/bin"
cd "$work"
go mod init pulumi-cli-build >/dev/null 2>&1
go mod edit -require "github.com/pulumi/pulumi/pkg/v3@$VERSION" -require "github.com/pulumi/pulumi/sdk/v3@$VERSION" \
  -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
GOFLAGS=-mod=mod go build -o "$CACHE/bin/pulumi.tmp" \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION" \
  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
mv "$CACHE/bin/pulumi.tmp" "$CACHE/bin/pulumi"
"$CACHE/bin/pulumi" version >&2
echo "$CACHE"
