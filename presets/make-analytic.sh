#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Writes the shipped analytic presets, byte for byte what is committed: every analytic kernel
# (nearest bilinear bicubic mitchell lanczos2 lanczos3 bspline) at x2, x3 and x4, as
# <type>-x<s>.tconv. Any other stride is generated on demand by the tconv command and the
# plug-in, so it needs no file. tests/cli/test-kernel.py regenerates them and compares.
#
#   presets/make-analytic.sh [OUT_DIR]
# OUT_DIR defaults to presets/; TCONV selects the binary (default build/cli/tconv).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/presets}
tconv=${TCONV:-$root/build/cli/tconv}

for type in nearest bilinear bicubic mitchell lanczos2 lanczos3 bspline; do
  for s in 2 3 4; do
    "$tconv" kernel make "$type" --stride "$s" -o "$out/$type-x$s.tconv"
  done
done
