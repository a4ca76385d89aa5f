#!/usr/bin/env bash
# Keeps the protos of the last release as the baseline `buf breaking` compares the tree with
# (packages/proto/src/buf-breaking.int.test.ts, part of `npm test`): run it when a release is
# tagged, and commit the result.
#
#   scripts/proto-baseline.sh VERSION [GIT-REF]     e.g. scripts/proto-baseline.sh v0.2.0
#
# GIT-REF defaults to VERSION (the release's tag). The baseline is a buf image without source
# info (names, numbers and types: all `buf breaking` needs), proto/baseline/VERSION.binpb; the
# previous one is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/proto-baseline.sh VERSION [GIT-REF]}
ref=${2:-$version}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$ref" buf.yaml proto | tar -x -C "$tmp"
rm -f proto/baseline/*.binpb
node_modules/.bin/buf build "$tmp" --exclude-source-info -o "proto/baseline/$version.binpb"
echo "proto/baseline/$version.binpb: the protos of $ref"
