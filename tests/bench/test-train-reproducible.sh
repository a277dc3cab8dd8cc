#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# TAP: the photographs in data/ are the ones their READMEs list (sha256 of every file, no
# file missing or extra), then presets/train.sh, re-run into a temporary folder, reproduces
# every committed learned preset and kernel bank byte for byte (all nine: about 40 s). Everything it needs is
# in the repository; TCONV_TRAIN_DATA points it at another copy of data/train.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${TCONV_TRAIN_DATA:-$root/data/train}
n=0
bad=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; }

# check_listed DIR: every PNG of DIR has the sha256 its README.md gives, and the README
# lists exactly the PNGs of DIR.
check_listed () {
  local dir=$1 listed file hash got
  listed=$(sed -n 's/^| \([^ |]*\.png\) | [^|]* | `\([0-9a-f]\{64\}\)` |.*/\1 \2/p' "$dir/README.md" 2>/dev/null)
  if [ -z "$listed" ]; then not_ok "$dir/README.md lists files with their sha256"; return; fi
  while read -r file hash; do
    got=$(sha256sum "$dir/$file" 2>/dev/null | cut -d' ' -f1)
    if [ "$got" = "$hash" ]; then ok "$(basename "$dir")/$file matches its sha256"
    else not_ok "$(basename "$dir")/$file matches its sha256 (${got:-missing}, README: $hash)"; fi
  done <<<"$listed"
  for file in "$dir"/*.png; do
    grep -qx "$(basename "$file") [0-9a-f]*" <<<"$listed" ||
      not_ok "$file is listed in $dir/README.md"
  done
}
check_listed "$data"
[ -n "${TCONV_TRAIN_DATA:-}" ] || check_listed "$root/data/heldout"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tconv-train-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if ! TCONV=${TCONV:-$root/build/cli/tconv} "$root/presets/train.sh" "$tmp" "$data" >"$tmp/log" 2>&1; then
  not_ok "presets/train.sh runs"
  sed 's/^/# /' "$tmp/log"
  echo "1..$n"
  exit 1
fi
presets=0
for f in "$root"/presets/learned*.tconv "$root"/presets/adaptive*.tconv; do
  presets=$((presets + 1))
  name=$(basename "$f")
  if cmp -s "$f" "$tmp/$name"; then
    ok "$name reproduced byte for byte"
  else
    not_ok "$name reproduced byte for byte"
    diff "$f" "$tmp/$name" | head -n 10 | sed 's/^/# /'
  fi
done
[ "$presets" -eq 9 ] || not_ok "six learned presets and three banks are committed (found $presets)"
echo "1..$n"
[ "$bad" -eq 0 ]
