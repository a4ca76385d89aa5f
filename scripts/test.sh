#!/usr/bin/env bash
# `npm test`: the whole suite on a fresh machine. Installs PostgreSQL and
# nats-server when missing, checks generated code, types and lint, runs
# unit and integration tests (vitest starts private servers on free ports;
# the k6 load smoke is one of them),
# and ends with one summary line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PWD/.tools/bin:$PATH"

failed_checks=0
check() {
  local name=$1; shift
  echo "== $name"
  if "$@"; then echo "   ok"; else echo "   FAILED: $name"; failed_checks=$((failed_checks + 1)); fi
}

generated_is_fresh() {
  local out
  out=$(mktemp -d)
  buf lint && buf generate -o "$out" && diff -r "$out/packages/proto/src/gen" packages/proto/src/gen
  local rc=$?
  rm -rf "$out"
  [[ $rc -eq 0 ]] || echo "   generated code is stale: run npm run generate and commit packages/proto/src/gen"
  return $rc
}

# Exit status 3: the TimescaleDB server cannot be had here; its tests skip and say so.
test_deps() { scripts/ensure-test-deps.sh || [[ $? -eq 3 ]]; }
check "test dependencies (PostgreSQL, TimescaleDB, nats-server, versitygw, k6, helm, kubeconform)" test_deps
check "lockfile lists every platform package (npm ci)" node scripts/complete-lockfile.mjs --check
check "protos lint clean and generated code fresh" generated_is_fresh
check "typecheck" tsc -p .
check "lint and format" biome check .

report=$(mktemp)
echo "== vitest (unit and integration)"
vitest run --reporter=default --reporter=json --outputFile.json="$report"
vitest_rc=$?

read -r passed failed < <(node -e '
  try {
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.numPassedTests, r.numFailedTests + (r.numTotalTests === 0 ? 1 : 0));
  } catch { console.log(0, 1); }' "$report")
rm -f "$report"
if [[ $vitest_rc -ne 0 && $failed -eq 0 ]]; then failed=1; fi
failed=$((failed + failed_checks))
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
