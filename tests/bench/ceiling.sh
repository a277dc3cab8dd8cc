#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A measurement, not a choice: how far can ONE linear kernel of the presets' sizes go on the
# held-out photographs? Kernels are fitted on the held-out photographs themselves (an
# oracle no shipped file or setting may use) and scored on them, next to the shipped
# presets, with quality.py's protocol (MATLAB-bicubic low resolution, PSNR-Y, s shaved).
#   tests/bench/ceiling.sh [DATA_DIR]     (default data/heldout)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${1:-$root/data/heldout}
tconv=${TCONV:-$root/build/cli/tconv}
out=$(mktemp -d "${TMPDIR:-/tmp}/tconv-ceiling-XXXXXX")
trap 'rm -rf "$out"' EXIT

mapfile -t held < <(awk '$1 == "heldout" { print $2 }' "$root/tests/bench/split.txt")
paths=()
for f in "${held[@]}"; do paths+=("$data/$f"); done

kernels=bicubic,lanczos3,learned,learned-small
for kmul in 6 4; do
  for weighting in pooled per-image; do
    for s in 2 3 4; do
      "$tconv" learn --quiet --stride $s --size $((kmul * s)) --symmetry dihedral \
        --weighting $weighting -o "$out/oracle-k$kmul-$weighting-x$s.tconv" "${paths[@]}" >/dev/null
    done
    kernels+=",$out/oracle-k$kmul-$weighting-x{s}.tconv"
  done
done
/usr/bin/python3 "$root/tests/bench/quality.py" --split heldout --lr bicubic --kernels "$kernels" \
  "$data" | sed "s#$out/##g"
