#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The adaptive banks' cost next to the single learned kernel, in one run: a 12-megapixel
# 8-bit RGB mosaic (make-mosaic.py) enlarged x2 PNG->PNG by `tconv upscale`, best of RUNS
# (default 3). Prints the whole command's wall time, the up-sampling stage (the pipeline's
# compute CPU seconds summed over its bands and threads, TCONV_PROFILE=1) and peak RSS.
#   tests/bench/bench-adaptive.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tconv=${TCONV:-$root/build/cli/tconv}
runs=${RUNS:-3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tconv-bench-adaptive-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$tconv" "$tmp/tconv"
/usr/bin/python3 "$root/tests/bench/make-mosaic.py" "$tmp/in.png" 4000 3000 > /dev/null

printf '%-36s %10s %14s %10s\n' "kernel" "wall s" "compute CPU s" "peak MB"
for job in "learned" "adaptive --antiring 0" "adaptive (default --antiring 0.75)"; do
  case $job in
    learned) args=(--kernel learned) ;;
    "adaptive --antiring 0") args=(--kernel adaptive --antiring 0) ;;
    *) args=(--kernel adaptive) ;;
  esac
  best_wall= best_cpu= best_rss=
  for _ in $(seq "$runs"); do
    TCONV_PROFILE=1 TCONV_PRESET_DIR="$root/presets" \
      /usr/bin/time -f 'time %e %M' "$tmp/tconv" upscale "${args[@]}" --stride 2 \
      -i "$tmp/in.png" -o "$tmp/out.png" 2> "$tmp/log"
    wall=$(awk '/^time /{print $2}' "$tmp/log")
    rss=$(awk '/^time /{print $3}' "$tmp/log")
    cpu=$(grep -o 'compute [0-9.]*' "$tmp/log" | awk '{s += $2} END {printf "%.2f", s}')
    if [ -z "$best_wall" ] || awk "BEGIN {exit !($wall < $best_wall)}"; then
      best_wall=$wall best_cpu=$cpu best_rss=$rss
    fi
  done
  printf '%-36s %10s %14s %10d\n' "$job" "$best_wall" "$best_cpu" $((best_rss / 1024))
done
