#!/usr/bin/env bash
# The whole test suite: set-up (when needed), lint, typecheck, then every test.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
bash scripts/setup.sh
echo "== lint"
pnpm exec biome ci --reporter=summary . 
echo "== typecheck"
pnpm exec tsc -b tsconfig.json
pnpm exec turbo run typecheck --output-logs=errors-only
echo "== tests"
pnpm exec vitest run "$@"
