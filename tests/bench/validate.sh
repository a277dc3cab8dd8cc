#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The tuning experiment behind the learned presets' settings (presets/README-learned.md):
# kernels fitted on the 'train' images of split.txt only, compared on the 'val' images,
# never on 'heldout'. Prints one quality table per variant group.
#   tests/bench/validate.sh [DATA_DIR] [VARIANT...]     (DATA_DIR default data/train)
# DIGITS=3 prints the PSNR means with 3 decimals.
# VARIANT is NAME=OPTIONS, e.g. 'sym-none=--symmetry none'; without any, the standard set.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${1:-$root/data/train}
shift || true
tconv=${TCONV:-$root/build/cli/tconv}
out=$(mktemp -d "${TMPDIR:-/tmp}/tconv-validate-XXXXXX")
trap 'rm -rf "$out"' EXIT

mapfile -t fit < <(awk '$1 == "train" { print $2 }' "$root/tests/bench/split.txt")
fit_paths=()
for f in "${fit[@]}"; do fit_paths+=("$data/$f"); done
photo_paths=("$data/r04_brick_texture.png" "$data/r11_retina_medical.png")

variants=("$@")
if [ ${#variants[@]} -eq 0 ]; then
  variants=(
    "k6-dihedral=--symmetry dihedral"
    "k6-none=--symmetry none"
    "k6-mix=--symmetry dihedral --degradation mix"
    "k6-ridge1e-3=--symmetry dihedral --ridge 1e-3"
    "k6-float-lr=--symmetry dihedral --no-quantize"
    "k8-dihedral=--symmetry dihedral KMUL=8"
    "k4-dihedral=--symmetry dihedral KMUL=4"
    "k6-per-image=--symmetry dihedral --weighting per-image"
    "k4-per-image=--symmetry dihedral --weighting per-image KMUL=4"
    "k6-photos=--symmetry dihedral PHOTOS"
    "k4-photos=--symmetry dihedral PHOTOS KMUL=4"
  )
fi

kernels=bicubic,lanczos3
for v in "${variants[@]}"; do
  name=${v%%=*}
  opts=${v#*=}
  kmul=6
  if [[ $opts == *KMUL=* ]]; then kmul=${opts##*KMUL=}; opts=${opts%KMUL=*}; fi
  paths=("${fit_paths[@]}")
  # PHOTOS: fit on the photographs of the training part only (no text, line art or wheel)
  if [[ $opts == *PHOTOS* ]]; then opts=${opts/PHOTOS/}; paths=("${photo_paths[@]}"); fi
  for s in 2 3 4; do
    # shellcheck disable=SC2086
    "$tconv" learn --quiet --stride $s --size $((kmul * s)) $opts -o "$out/$name-x$s.tconv" \
      "${paths[@]}" >/dev/null
  done
  kernels+=",$out/$name-x{s}.tconv"
done
/usr/bin/python3 "$root/tests/bench/quality.py" --split val --digits "${DIGITS:-2}" --kernels "$kernels" "$data" \
  | sed "s#$out/##g"
