#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Makes docs/before-after.png: a 64x48 crop of a held-out photograph (data/heldout, never
# trained on) enlarged x4 by the nearest, bicubic and learned kernels of the built tconv,
# side by side.
#   docs/make-figures.sh            (after `meson setup build && ninja -C build`)
# TCONV selects the binary (default build/cli/tconv). Needs /usr/bin/python3 with PIL.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tconv=${TCONV:-$root/build/cli/tconv}
export TCONV_PRESET_DIR=$root/presets
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tconv-figures-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 - "$root/data/heldout/r01_chelsea_cat.png" "$tmp/crop.png" <<'PY'
import sys
from PIL import Image
Image.open(sys.argv[1]).convert('RGB').crop((138, 82, 202, 130)).save(sys.argv[2])
PY
for k in nearest bicubic learned; do
  "$tconv" upscale -i "$tmp/crop.png" -o "$tmp/$k.png" --kernel "$k" --stride 4
done
/usr/bin/python3 - "$tmp" "$root/docs/before-after.png" <<'PY'
import sys
from PIL import Image, ImageDraw
tmp, out = sys.argv[1], sys.argv[2]
panels = [Image.open(f'{tmp}/{k}.png').convert('RGB') for k in ('nearest', 'bicubic', 'learned')]
w, h = panels[0].size
gap, label = 6, 18
sheet = Image.new('RGB', (3 * w + 2 * gap, h + label), 'white')
draw = ImageDraw.Draw(sheet)
for i, (p, name) in enumerate(zip(panels, ('nearest', 'bicubic', 'learned'))):
    sheet.paste(p, (i * (w + gap), label))
    draw.text((i * (w + gap) + 4, 3), f'{name} x4', fill='black')
sheet.save(out, optimize=True)
PY
echo "wrote $root/docs/before-after.png"
