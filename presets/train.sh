#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Trains the shipped learned presets, byte for byte what is committed:
#   learned-x2/x3/x4.tconv        K = 6 s (12x12, 18x18, 24x24)
#   learned-small-x2/x3/x4.tconv  K = 4 s (8x8, 12x12, 16x16)
#   adaptive-x2/x3/x4.tconv       kernel banks (presets/README-adaptive.md)
# on the training part (roles train and val) of tests/bench/split.txt, never on the
# held-out photographs. Settings and the reasons for them: presets/README-learned.md.
#
#   presets/train.sh [OUT_DIR [DATA_DIR]]
# OUT_DIR defaults to presets/, DATA_DIR to data/train of the repository;
# TCONV selects the binary (default build/cli/tconv); ONLY="learned-x2 ..." makes a subset.
# The output depends only on the image files (their order is split.txt's) and the
# arguments: the learner is single-threaded, accumulates in double in a fixed order, and the
# files name the images by base name and sha256 only, never by path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/presets}
data=${2:-$root/data/train}
tconv=${TCONV:-$root/build/cli/tconv}
only=${ONLY:-}

images=()
while read -r role file; do
  case $role in
    train | val) images+=("$data/$file") ;;
  esac
done < <(grep -v '^#' "$root/tests/bench/split.txt")

for s in 2 3 4; do
  for variant in learned:6 learned-small:4; do
    name=${variant%%:*}-x$s
    k=$((${variant##*:} * s))
    if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then
      continue
    fi
    # per-image weighting scored higher on the validation photographs for every preset
    # but learned-x2, and --shifts (all s x s crop offsets) for every preset
    # (presets/README-learned.md)
    weighting=per-image
    [ "$name" = learned-x2 ] && weighting=pooled
    "$tconv" learn --quiet --stride "$s" --size "$k" --degradation bicubic \
      --symmetry dihedral --weighting "$weighting" --shifts --name "$name" \
      --description "learned x$s up-sampling, ${k}x$k taps (K = ${variant##*:} s), MATLAB-bicubic low resolution, the training part of the project's photographs" \
      -o "$out/$name.tconv" "${images[@]}"
  done
done

# The kernel banks, with the settings the validation photographs chose
# (presets/README-adaptive.md, tests/bench/validate-adaptive.sh).
for s in 2 3 4; do
  name=adaptive-x$s
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then
    continue
  fi
  case $s in
    2) classes=12x3x3 ridge=100 ;;
    *) classes=8x2x2 ridge=300 ;;
  esac
  "$tconv" learn --quiet --bank --stride "$s" --classes "$classes" --class-ridge "$ridge" \
    --degradation bicubic --symmetry dihedral --shifts --name "$name" \
    --description "adaptive x$s up-sampling: $classes classes of local structure, 7x7 low-resolution window, MATLAB-bicubic low resolution, the training part of the project's photographs" \
    -o "$out/$name.tconv" "${images[@]}"
done
