#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The adaptive banks' cost next to the single learned kernel: a 12-megapixel 8-bit RGB mosaic
# (make-mosaic.py) enlarged x2 PNG->PNG by `tconv upscale`, RUNS rounds (default 5). Each
# round runs the three jobs one after the other, so that they share the machine's state, and
# the ratios to learned are taken within a round. Prints, per job, the medians over rounds of
# the whole command's wall time, the pipeline's compute CPU seconds summed over its bands and
# threads (TCONV_PROFILE=1), the narrowing of float results to 8 bits (learned's 8-bit path
# does it inside compute), the up-sampling stage (the two together) and its ratio to
# learned's, and the largest peak RSS; then the stage ratio's range over the rounds.
#   tests/bench/bench-adaptive.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tconv=${TCONV:-$root/build/cli/tconv}
runs=${RUNS:-5}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tconv-bench-adaptive-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$tconv" "$tmp/tconv"
/usr/bin/python3 "$root/tests/bench/make-mosaic.py" "$tmp/in.png" 4000 3000 > /dev/null

jobs=("learned" "adaptive --antiring 0" "adaptive (default --antiring 0.75)")
for r in $(seq "$runs"); do
  for i in "${!jobs[@]}"; do
    case ${jobs[$i]} in
      learned) args=(--kernel learned) ;;
      "adaptive --antiring 0") args=(--kernel adaptive --antiring 0) ;;
      *) args=(--kernel adaptive) ;;
    esac
    TCONV_PROFILE=1 TCONV_PRESET_DIR="$root/presets" \
      /usr/bin/time -f 'time %e %M' "$tmp/tconv" upscale "${args[@]}" --stride 2 \
      -i "$tmp/in.png" -o "$tmp/out.png" 2> "$tmp/log"
    # round job wall compute narrow rss
    printf '%s %s %s %s %s %s\n' "$r" "$i" \
      "$(awk '/^time /{print $2}' "$tmp/log")" \
      "$(grep -o 'compute [0-9.]*' "$tmp/log" | awk '{s += $2} END {printf "%.3f", s}')" \
      "$(grep -o 'narrow [0-9.]*' "$tmp/log" | awk '{s += $2} END {printf "%.3f", s}')" \
      "$(awk '/^time /{print $3}' "$tmp/log")" >> "$tmp/rows"
  done
done

printf '%-36s %8s %11s %10s %9s %13s %8s\n' "kernel (medians of $runs rounds)" "wall s" \
  "compute s" "narrow s" "stage s" "stage/learned" "peak MB"
/usr/bin/python3 - "$tmp/rows" "${jobs[@]}" << 'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
names = sys.argv[2:]
stage = lambda r: float(r[3]) + float(r[4])
learned = {int(r[0]): stage(r) for r in rows if r[1] == "0"}
for i, name in enumerate(names):
    mine = [r for r in rows if r[1] == str(i)]
    med = lambda k: statistics.median(float(r[k]) for r in mine)
    ratios = [stage(r) / learned[int(r[0])] for r in mine]
    print("%-36s %8.2f %11.3f %10.3f %9.3f %13.2f %8d" % (name, med(2), med(3), med(4),
          statistics.median(stage(r) for r in mine), statistics.median(ratios),
          max(int(r[5]) for r in mine) // 1024))
    if i:
        print("%-36s %s" % ("", "stage/learned per round: %.2f-%.2f" % (min(ratios), max(ratios))))
EOF
