#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Time-boxed libFuzzer run of every target (tests/fuzz/fuzz-<name>.c), as CI or a developer
# would do it:  tests/fuzz/run.sh SECONDS   (per target)
#
# Builds in its own directory ($TCONV_FUZZ_BUILD, default build-fuzz/ at the top of the tree)
# with clang, -Dfuzzing=true and ASan+UBSan, runs each target for SECONDS on its seed corpus and
# past crashes, keeps the inputs it discovers in the build directory (not in the repository),
# copies any crashing input into tests/fuzz/crashes/<name>/ so that `meson test` replays it,
# prints executions per target, and exits non-zero if any target crashed.
set -eu

if [ $# -ne 1 ] || ! [ "$1" -gt 0 ] 2>/dev/null; then
  echo "usage: $0 SECONDS (per fuzz target, > 0)" >&2
  exit 2
fi
seconds=$1

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${TCONV_FUZZ_BUILD:-$src/build-fuzz}

if ! command -v clang >/dev/null 2>&1; then
  echo "run.sh: clang not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

# The CLI stays enabled (auto) because the pipeline target needs GLib, GEGL and babl.
opts="-Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false"
opts="$opts -Dcli=auto -Dplugin=disabled"
if [ -f "$build/build.ninja" ]; then
  # shellcheck disable=SC2086
  meson configure "$build" $opts >/dev/null
else
  # shellcheck disable=SC2086
  CC=clang meson setup "$build" "$src" --buildtype=debugoptimized $opts
fi

# Every fuzz-<name>.c that this build has a target for (the pipeline target needs GEGL).
known=$(ninja -C "$build" -t targets all 2>/dev/null | sed -n 's|^tests/fuzz/\(fuzz-[a-z0-9_-]*\): .*|\1|p')
targets=
for f in "$here"/fuzz-*.c; do
  name=$(basename "$f" .c)
  if printf '%s\n' "$known" | grep -qx "$name"; then
    targets="$targets ${name#fuzz-}"
  else
    echo "run.sh: $name is not built here (missing dependency?): skipped" >&2
  fi
done
for name in $targets; do
  ninja -C "$build" "tests/fuzz/fuzz-$name"
done

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
# GLib, GEGL and babl keep global caches alive until exit: not ours to report.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}"

failed=0
summary=
for name in $targets; do
  work="$build/fuzz-work/$name"
  mkdir -p "$work/corpus" "$work/artifacts" "$here/crashes/$name"
  log="$work/fuzz.log"
  echo "== fuzz-$name for ${seconds}s (log: $log)"
  # The first corpus directory receives new inputs; the seeds and past crashes are read only.
  # GEGL and babl fill global caches lazily and keep them (some allocated by plug-in modules
  # whose frames LSan cannot name at exit, so tests/lsan.supp cannot match them): leak
  # checking is off for the pipeline target here; its replay test in the sanitizer build
  # checks our own allocations. Its first input also pays for gegl_init().
  extra=
  asan=$ASAN_OPTIONS
  case $name in
    pipeline) extra=-detect_leaks=0; asan="$ASAN_OPTIONS:detect_leaks=0" ;;
  esac
  status=0
  # shellcheck disable=SC2086
  ASAN_OPTIONS=$asan \
  "$build/tests/fuzz/fuzz-$name" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/artifacts/" $extra \
    "$work/corpus" "$here/corpus/$name" "$here/crashes/$name" >"$log" 2>&1 || status=$?

  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  line="fuzz-$name: ${runs:-?} executions, ${rate:-?} exec/s in ${seconds}s"

  found=0
  crashes=0
  for a in "$work/artifacts"/crash-* "$work/artifacts"/leak-* "$work/artifacts"/timeout-* \
           "$work/artifacts"/oom-*; do
    [ -e "$a" ] || continue
    cp "$a" "$here/crashes/$name/"
    echo "fuzz-$name: kept $(basename "$a") in tests/fuzz/crashes/$name/"
    rm -f "$a"
    found=1
    crashes=$((crashes + 1))
  done
  line="$line, $crashes new crash(es)"
  if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    line="$line: FAILED (exit $status)"
    tail -n 40 "$log"
  fi
  summary="$summary$line
"
done

printf '%s' "$summary"
exit "$failed"
