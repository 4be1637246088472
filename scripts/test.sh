#!/usr/bin/env bash
# The whole test suite: set-up (when needed), lint, typecheck, then every test
# (unit, property and e2e; the e2e suites mount real images).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
echo "== lint (biome, including the import-cycle rule)"
pnpm exec biome ci --reporter=summary .
echo "== typecheck (tsc -b over the project references, then each package's tests)"
pnpm exec tsc -b tsconfig.json
pnpm exec turbo run typecheck --output-logs=errors-only
echo "== tests"
report="$(mktemp /tmp/ext4-vitest.XXXXXX.json)"
trap 'rm -f "$report"' EXIT
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
# One plain closing line that any CI log reader understands.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
exit "$status"
