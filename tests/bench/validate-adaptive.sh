#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The choice of the adaptive presets' settings (presets/README-adaptive.md): banks fitted on
# the 'train' images of split.txt only, scored on the 'val' images, never on 'heldout';
# beside them the single learned kernel fitted the same way (the learned presets' settings).
#   tests/bench/validate-adaptive.sh [DATA_DIR]      (DATA_DIR default data/train)
# SCALES="2 3 4", CLASSES="24x3x3 12x3x3 8x2x2", RIDGES="30 100 300" narrow the grid.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${1:-$root/data/train}
tconv=${TCONV:-$root/build/cli/tconv}
scales=${SCALES:-2 3 4}
classes=${CLASSES:-24x3x3 12x3x3 8x2x2}
ridges=${RIDGES:-30 100 300}
out=$(mktemp -d "${TMPDIR:-/tmp}/tconv-validate-adaptive-XXXXXX")
trap 'rm -rf "$out"' EXIT
# a private copy: a rebuild during the run must not change the binary
cp "$tconv" "$out/tconv"
tconv=$out/tconv

mapfile -t fit < <(awk '$1 == "train" { print $2 }' "$root/tests/bench/split.txt")
fit_paths=()
for f in "${fit[@]}"; do fit_paths+=("$data/$f"); done

for s in $scales; do
  kernels=bicubic
  weighting=per-image
  [ "$s" = 2 ] && weighting=pooled
  "$tconv" learn --quiet --stride "$s" --size $((6 * s)) --degradation bicubic \
    --symmetry dihedral --weighting "$weighting" --shifts --name "learned-x$s" \
    -o "$out/learned-x$s.tconv" "${fit_paths[@]}" > /dev/null
  kernels+=",$out/learned-x$s.tconv"
  for c in $classes; do
    for r in $ridges; do
      name="adaptive-$c-r$r-x$s"
      start=$(date +%s.%N)
      "$tconv" learn --quiet --bank --stride "$s" --classes "$c" --class-ridge "$r" \
        --degradation bicubic --symmetry dihedral --shifts --name "adaptive-x$s" \
        -o "$out/$name.tconv" "${fit_paths[@]}" > /dev/null
      echo "# trained $name in $(echo "$(date +%s.%N) - $start" | bc) s" >&2
      kernels+=",$out/$name.tconv"
    done
  done
  echo "## x$s"
  /usr/bin/python3 "$root/tests/bench/quality.py" --tconv "$tconv" --split val --scales "$s" \
    --lr bicubic --digits 3 --kernels "$kernels" "$data" | sed "s|$out/||g"
done
