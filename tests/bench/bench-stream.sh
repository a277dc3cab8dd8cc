#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Streamed PNG to PNG (docs/streaming.md) against libvips at the same PNG settings (zlib level
# 3, "up" row filter), wall time and peak RSS (/usr/bin/time -v "Maximum resident set size"):
#   1. a 4000x3000 8-bit RGB photo mosaic (tests/bench/make-mosaic.py) x2 -> 8000x6000:
#      tconv bicubic streamed, tconv bicubic whole-image (TCONV_NO_STREAM=1), tconv lanczos3
#      streamed (vips resize's default kernel), `vips resize in.png "out.png[compression=3,
#      filter=up]" 2`;
#   2. a 10000x10000 mosaic x2 -> 20000x20000: tconv bicubic streamed and vips (SKIP_BIG=1
#      leaves this out).
# Usage: tests/bench/bench-stream.sh [path/to/tconv] [work dir]
#   (defaults: build/cli/tconv, a fresh folder under ${TMPDIR:-/tmp}, removed at the end).
#   REPEAT=N runs each job N times (default 3) and prints every run and the best.
# Needs /usr/bin/time and python3 with numpy; vips (libvips-tools) is optional: without it
# the vips lines say so. Nothing is installed here.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
tconv=$(readlink -f "${1:-build/cli/tconv}")
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/tconv-bench-stream.XXXXXX")}
keep=${2:+1}
repeat=${REPEAT:-3}
mkdir -p "$work"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
[ -x "$tconv" ] || { echo "bench-stream.sh: $tconv is not executable (build first)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench-stream.sh: needs /usr/bin/time (package 'time')" >&2; exit 2; }
python=${PYTHON:-}
for p in $python python3 /usr/bin/python3; do
  if "$p" -c 'import numpy' 2>/dev/null; then python=$p; break; fi
done
"$python" -c 'import numpy' 2>/dev/null || { echo "bench-stream.sh: needs python3 with numpy" >&2; exit 2; }
export TCONV_PRESET_DIR="$root/presets"

# job NAME OUT-FILE COMMAND...: runs it $repeat times; prints each run and the best wall time
# with its peak RSS; sets best_s and best_kb.
job () {
  local name=$1 out=$2; shift 2
  best_s='' best_kb=''
  for ((i = 1; i <= repeat; i++)); do
    rm -f "$out"
    if ! /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null 2>"$work/err.txt"; then
      echo "$name: failed: $(tail -3 "$work/err.txt")"; return 1
    fi
    local s kb
    s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); v = 0;
                    for (i = 1; i <= n; i++) v = v * 60 + t[i]; print v}' "$work/time.txt")
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
    printf '  %-34s run %d: %7.2f s  %7.1f MB peak RSS\n' "$name" "$i" "$s" "$(awk "BEGIN {print $kb / 1024}")"
    if [ -z "$best_s" ] || awk "BEGIN {exit !($s < $best_s)}"; then best_s=$s best_kb=$kb; fi
  done
  printf '%-36s best: %7.2f s  %7.1f MB peak RSS  (%s bytes out)\n' "$name" "$best_s" \
    "$(awk "BEGIN {print $best_kb / 1024}")" "$(stat -c %s "$out")"
}

ratio () { # label, tconv s/kb, vips s/kb
  printf '%s: vips/tconv wall %.2fx (target >= 1.3), tconv/vips peak RSS %.2fx (target <= 1.5)\n' \
    "$1" "$(awk "BEGIN {print $4 / $2}")" "$(awk "BEGIN {print $3 / $5}")"
}

have_vips=$(command -v vips || true)
echo "tconv: $tconv; vips: ${have_vips:-not installed}; $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

"$python" tests/bench/make-mosaic.py "$work/m12.png" 4000 3000
echo "1. 4000x3000 RGB mosaic x2 -> 8000x6000, PNG zlib 3 + up filter"
job "tconv bicubic (streamed)" "$work/t.png" "$tconv" upscale -i "$work/m12.png" -o "$work/t.png" --kernel bicubic
t_s=$best_s t_kb=$best_kb
job "tconv bicubic (whole image)" "$work/w.png" env TCONV_NO_STREAM=1 "$tconv" upscale -i "$work/m12.png" -o "$work/w.png" --kernel bicubic
cmp -s "$work/t.png" "$work/w.png" && echo "  streamed and whole-image files are identical" \
  || echo "  streamed and whole-image files DIFFER"
job "tconv lanczos3 (streamed)" "$work/l.png" "$tconv" upscale -i "$work/m12.png" -o "$work/l.png" --kernel lanczos3
l_s=$best_s l_kb=$best_kb
if [ -n "$have_vips" ]; then
  job "vips resize (lanczos3)" "$work/v.png" vips resize "$work/m12.png" "$work/v.png[compression=3,filter=up]" 2
  ratio "  bicubic" "$t_s" "$t_kb" "$best_s" "$best_kb"
  ratio "  lanczos3" "$l_s" "$l_kb" "$best_s" "$best_kb"
fi
rm -f "$work"/t.png "$work"/w.png "$work"/l.png "$work"/v.png

if [ -z "${SKIP_BIG:-}" ]; then
  "$python" tests/bench/make-mosaic.py "$work/m100.png" 10000 10000
  echo "2. 10000x10000 RGB mosaic x2 -> 20000x20000 (target: under 256 MB peak RSS)"
  repeat=1
  job "tconv bicubic (streamed)" "$work/t.png" "$tconv" upscale -i "$work/m100.png" -o "$work/t.png" --kernel bicubic
  t_s=$best_s t_kb=$best_kb
  if [ -n "$have_vips" ]; then
    job "vips resize (lanczos3)" "$work/v.png" vips resize "$work/m100.png" "$work/v.png[compression=3,filter=up]" 2
    ratio "  bicubic" "$t_s" "$t_kb" "$best_s" "$best_kb"
  fi
fi
