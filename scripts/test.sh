#!/usr/bin/env bash
# `npm test`: the whole suite on a fresh machine. Installs PostgreSQL and
# nats-server when missing, checks generated code, types and lint, runs
# unit and integration tests (vitest starts private servers on free ports;
# the k6 load smoke is one of them), then the console's browser tests (Playwright),
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
check "typecheck" bash -c 'tsc -p . && tsc -p web'
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

# The console in Debian's Chromium against a real stack (web/tests; builds web/dist when stale).
echo "== browser tests (Playwright, Chromium)"
pw_report=$(mktemp)
PLAYWRIGHT_JSON_OUTPUT_NAME="$pw_report" playwright test -c web/playwright.config.ts --reporter=list,json
pw_rc=$?
read -r pw_passed pw_failed < <(node -e '
  try {
    const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).stats;
    const ran = s.expected + s.unexpected + s.flaky;
    console.log(s.expected + s.flaky, s.unexpected + (ran === 0 ? 1 : 0));
  } catch { console.log(0, 1); }' "$pw_report")
rm -f "$pw_report"
if [[ $pw_rc -ne 0 && $pw_failed -eq 0 ]]; then pw_failed=1; fi
passed=$((passed + pw_passed))
failed=$((failed + pw_failed + failed_checks))
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
