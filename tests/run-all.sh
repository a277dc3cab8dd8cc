#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The whole test suite. Builds and runs every suite, then prints one summary line
# "N passed, M failed" over all of them (meson tests count one each). Exit 0 only when
# nothing failed.
#   1. plain build: every meson test (core, cli, pipeline, fuzz replay, GIMP 3 in a chroot),
#      then the core suite again with TCONV_DISABLE=avx2,clones (the portable kernels) and,
#      on a CPU with AVX-512, with TCONV_DISABLE=avx512 (the x86-64-v3 kernels)
#   2. sanitizer build (-Db_sanitize=address,undefined, halting on the first error): the same
#      tests except the GIMP 3 suite
#   3. valgrind (--error-exitcode) over the core and CLI tests of the plain build
#   4. time-boxed libFuzzer runs of every fuzz target (tests/fuzz/run.sh)
# TCONV_QUICK=1 runs step 1 only; TCONV_SKIP_GIMP3=1 skips the GIMP 3 suite.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
passed=0
failed=0
skipped=0

# Counts the results of one meson test run from its JSON log.
count_meson () {
  # meson names the log after the --wrap program when there is one (testlog-WRAP.json)
  local log
  log=$(ls -t "$1"/meson-logs/testlog*.json 2>/dev/null | head -n 1)
  if [ -z "$log" ] || [ ! -f "$log" ]; then failed=$((failed + 1)); echo "== $2: no test log"; return; fi
  local p f s
  p=$(grep -c '"result": "OK"' "$log")
  s=$(grep -c '"result": "SKIP"' "$log")
  f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS|INTERRUPT)"' "$log")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  echo "== $2: $p passed, $f failed, $s skipped"
}

# build DIR [meson setup args...]: configure once, then build; failure counts as one failure.
build () {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { tail -n 30 "$dir.setup.log"; return 1; }
  fi
  ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -n 40 "$dir.build.log"; return 1; }
}

run_meson () { # name dir [meson test args...]
  local name=$1 dir=$2; shift 2
  rm -f "$dir"/meson-logs/testlog*.json
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || true
  count_meson "$dir" "$name"
}

echo "== 1. plain build"
if build "$root/build"; then
  run_meson "plain build" "$root/build"
  # The core again on its portable kernels, the code that CPUs without AVX2 (ARM, ...) run.
  echo "== 1b. core suite with TCONV_DISABLE=avx2,clones (portable kernels)"
  TCONV_DISABLE=avx2,clones run_meson "portable kernels" "$root/build" --suite core
  # Where the x86-64-v4 copies run by default, the x86-64-v3 ones that other CPUs take.
  if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    echo "== 1c. core suite with TCONV_DISABLE=avx512 (x86-64-v3 kernels)"
    TCONV_DISABLE=avx512 run_meson "x86-64-v3 kernels" "$root/build" --suite core
  fi
else
  failed=$((failed + 1))
fi

if [ "${TCONV_QUICK:-0}" != 1 ]; then
  echo "== 2. sanitizer build (address, undefined)"
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  # GLib, GEGL and babl keep global caches alive until exit: not ours to report.
  # use_tls=0: GCC 12's LeakSanitizer can crash at exit ("Tracer caught signal 11") on a
  # garbage dynamic-TLS entry of a multi-threaded GEGL run, depending on MALLOC_PERTURB_ and
  # the environment; not scanning TLS can only add leak reports, never hide one.
  export LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0:use_tls=0
  # Full unwinding so that the suppressions match frames inside libraries built without
  # frame pointers (fontconfig, ICU under GEGL).
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0
  if build "$root/build-asan" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
       -Dplugin=disabled; then
    run_meson "sanitizers" "$root/build-asan" --no-suite gimp3.0 --no-suite gimp3.2 --timeout-multiplier 3
  else
    failed=$((failed + 1))
  fi
  unset UBSAN_OPTIONS LSAN_OPTIONS ASAN_OPTIONS

  echo "== 3. valgrind (core and CLI tests of the plain build)"
  vg="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
--suppressions=$root/tests/valgrind.supp"
  # C tests are wrapped by meson; the Python CLI tests run tconv through TCONV_WRAPPER.
  TCONV_WRAPPER="$vg" run_meson "valgrind" "$root/build" --suite core --suite cli \
    --wrap="$root/tests/valgrind-wrap.sh" --timeout-multiplier 10

  echo "== 4. fuzzing (time-boxed)"
  if [ -x tests/fuzz/run.sh ]; then
    if tests/fuzz/run.sh "${TCONV_FUZZ_SECONDS:-15}"; then
      passed=$((passed + 1)); echo "== fuzzing: no crash"
    else
      failed=$((failed + 1)); echo "== fuzzing: FAILED"
    fi
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
