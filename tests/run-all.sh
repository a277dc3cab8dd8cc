#!/usr/bin/env bash
# The whole test suite: builds and runs every suite, then prints one summary line
# "N passed, M failed" over all of them. Exit status 0 only when nothing failed.
#   tests/run-all.sh            everything
#   TCONV_QUICK=1 tests/run-all.sh   only the plain build's meson tests
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
passed=0
failed=0
skipped=0

# Counts the results of one meson test run from its JSON log.
count_meson () {
  local log=$1/meson-logs/testlog.json
  [ -f "$log" ] || { failed=$((failed + 1)); return; }
  local p f s
  p=$(grep -c '"result": "OK"' "$log")
  s=$(grep -c '"result": "SKIP"' "$log")
  f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS|INTERRUPT)"' "$log")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  echo "== $2: $p passed, $f failed, $s skipped"
}

suite_meson () { # name builddir [meson setup args...]
  local name=$1 dir=$2; shift 2
  echo "== $name: building in $dir"
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; failed=$((failed + 1)); return; }
  fi
  if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
    tail -n 40 "$dir.build.log"; failed=$((failed + 1)); return
  fi
  meson test -C "$dir" --print-errorlogs --num-processes 2 "${MESON_TEST_ARGS[@]}" || true
  count_meson "$dir" "$name"
}

MESON_TEST_ARGS=()
suite_meson "plain build" "$root/build"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
