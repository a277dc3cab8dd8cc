#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Time and peak memory of `tconv upscale`, PNG to PNG:
#   1. a 4000x3000 RGB photo-like image, x2 (bicubic) -> 8000x6000;
#   2. a 10000x10000 RGB image, x2 (bilinear) -> 20000x20000 (1.2 GB of 8-bit pixels, 4.8 GB
#      as one float array: GEGL's tile cache swaps it to disk as needed).
# Usage: tests/bench/bench-upscale.sh [path/to/tconv] [work dir]
#   (defaults: build/cli/tconv, a fresh folder under ${TMPDIR:-/tmp}, removed at the end).
# Prints one line per job: seconds (wall), CPU seconds, peak RSS, output size.
set -euo pipefail
cd "$(dirname "$0")/../.."
tconv=$(readlink -f "${1:-build/cli/tconv}")
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/tconv-bench.XXXXXX")}
keep=${2:+1}
mkdir -p "$work"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
[ -x "$tconv" ] || { echo "bench-upscale.sh: $tconv is not executable (build first)" >&2; exit 2; }

# Inputs, made with numpy and written with zlib (level 1: quick to make, ordinary to read).
/usr/bin/python3 - "$work" <<'EOF'
import os, struct, sys, zlib
import numpy as np

def write_png(path, a):
    h, w, c = a.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), a.reshape(h, w * c)], axis=1)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + chunk(b"IEND", b""))

def photo(h, w, seed):
    """Smooth shapes plus fine noise: compresses like a photograph, not like a flat fill."""
    r = np.random.default_rng(seed)
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    out = np.empty((h, w, 3), np.uint8)
    for c in range(3):
        v = 0.5 + 0.25 * np.sin(9 * x + 2 * c) * np.cos(7 * y - c) + 0.15 * np.sin(40 * x * y + c)
        v = v * 235 + r.integers(0, 20, (h, w), dtype=np.uint8)
        out[:, :, c] = np.clip(v, 0, 255).astype(np.uint8)
    return out

work = sys.argv[1]
if not os.path.exists(os.path.join(work, "photo-4000x3000.png")):
    write_png(os.path.join(work, "photo-4000x3000.png"), photo(3000, 4000, 1))
if not os.path.exists(os.path.join(work, "big-10000x10000.png")):
    write_png(os.path.join(work, "big-10000x10000.png"), photo(10000, 10000, 2))
EOF

run () { # label, args...
  local label=$1; shift
  /usr/bin/time -v "$tconv" upscale "$@" 2> "$work/time.txt" > /dev/null || { cat "$work/time.txt" >&2; exit 1; }
  local wall cpu rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt" \
         | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$work/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/time.txt")
  printf '%-44s %8.1f s wall %8s s CPU %7s MiB peak RSS\n' "$label" "$wall" "$cpu" "$rss"
}

echo "tconv upscale benchmark: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(date -u +%Y-%m-%d)"
run "4000x3000 -> 8000x6000 (bicubic x2)" -i "$work/photo-4000x3000.png" -o "$work/out-8000x6000.png" --kernel bicubic
run "10000x10000 -> 20000x20000 (bilinear x2)" -i "$work/big-10000x10000.png" -o "$work/out-20000x20000.png" --kernel bilinear
ls -l "$work"/out-*.png | awk '{ printf "  %s: %.0f MB\n", $NF, $5 / 1e6 }'
