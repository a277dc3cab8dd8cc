#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# TAP: presets/train.sh, re-run into a temporary folder, reproduces every committed learned
# preset byte for byte (all six: about 10 s). Skips when the training photographs
# (../shared/data/train beside the repository, or $TCONV_TRAIN_DATA) are absent.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${TCONV_TRAIN_DATA:-$root/../shared/data/train}
if [ ! -f "$data/r02_grace_hopper_face.png" ]; then
  echo "1..0 # SKIP training photographs not found in $data"
  exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tconv-train-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if ! TCONV=${TCONV:-$root/build/cli/tconv} "$root/presets/train.sh" "$tmp" "$data" >"$tmp/log" 2>&1; then
  echo "not ok 1 - presets/train.sh runs"
  sed 's/^/# /' "$tmp/log"
  echo "1..1"
  exit 1
fi
n=0
bad=0
for f in "$root"/presets/learned*.tconv; do
  n=$((n + 1))
  name=$(basename "$f")
  if cmp -s "$f" "$tmp/$name"; then
    echo "ok $n - $name reproduced byte for byte"
  else
    bad=$((bad + 1))
    echo "not ok $n - $name reproduced byte for byte"
    diff "$f" "$tmp/$name" | head -n 10 | sed 's/^/# /'
  fi
done
if [ "$n" -ne 6 ]; then
  n=$((n + 1)); bad=$((bad + 1))
  echo "not ok $n - six learned presets are committed (found $((n - 1)))"
fi
echo "1..$n"
[ "$bad" -eq 0 ]
