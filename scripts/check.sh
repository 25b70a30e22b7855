#!/usr/bin/env bash
# `make check`: types, lint, formatting and the fast tests (scripts/fast-tests.mjs), in two lanes
# for two cores. Every step runs even when one before it fails; each step's output is printed
# whole, in a fixed order, after all have ended; exit 1 names the steps that failed.
#   lane 1: tsc src/ -> dist/, then ESLint (it reads dist/ declarations), then Prettier
#   lane 2: tsc src/ test/ bench/ -> build/, then the fast tests as plain node (run-tests.mjs)
# Both tsc passes keep a record in build/tsc/ and check again only what an edit can affect.
set -uo pipefail
cd "$(dirname "$0")/.."
out=build/check
mkdir -p "$out"
rm -f "$out"/*.log "$out"/*.rc

# Runs one step, its output to $out/NAME.log and its exit status to $out/NAME.rc.
step() {
  local name=$1
  shift
  local start=$SECONDS
  "$@" >"$out/$name.log" 2>&1
  echo $? >"$out/$name.rc"
  echo "($name: $((SECONDS - start)) s)" >>"$out/$name.log"
}

# A tsbuildinfo without the outputs it records would emit nothing: tsc does not look for them.
[ -e dist/cli.js ] || rm -f build/tsc/src.tsbuildinfo

fast_tests() {
  local files
  files=$(node scripts/fast-tests.mjs) || return 1
  # shellcheck disable=SC2086 # one built file per line, no spaces
  node scripts/run-tests.mjs --times build/check/test-times.json $files | node scripts/tap-summary.mjs
}

(
  step types-src npx tsc -p tsconfig.json
  step eslint npx eslint --cache --cache-strategy content --cache-location build/.eslintcache .
  step prettier npx prettier --check --cache --cache-location build/.prettiercache --log-level warn .
) &
lane1=$!
(
  step types-test npx tsc -p tsconfig.test.json
  node scripts/prune-build.mjs
  step tests fast_tests
) &
lane2=$!
wait "$lane1" "$lane2"

failed=()
for name in types-src types-test eslint prettier tests; do
  echo "== $name"
  cat "$out/$name.log"
  [ "$(cat "$out/$name.rc" 2>/dev/null)" = 0 ] || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "make check failed: ${failed[*]}" >&2
  exit 1
fi
echo "make check passed"
