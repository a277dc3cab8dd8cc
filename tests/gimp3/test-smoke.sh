#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck disable=SC2016  # single-quoted scripts are expanded inside the chroot
# Smoke test of the GIMP 3 test host (host.sh): chroot build, run, Script-Fu and Python
# batch calls, exchanging files with the host. Prints TAP. The first run builds the chroot
# (several minutes); later runs take well under a minute.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
HOST=$HERE/host.sh

if [[ ${TCONV_SKIP_GIMP3:-0} == 1 ]]; then echo "1..0 # SKIP TCONV_SKIP_GIMP3=1"; exit 0; fi
if [[ $(id -u) != 0 ]]; then echo "1..0 # SKIP needs root for chroot and mount"; exit 0; fi
if ! command -v debootstrap >/dev/null && ! command -v apt-get >/dev/null; then
  echo "1..0 # SKIP neither debootstrap nor apt-get on this host"; exit 0
fi

ROOT=$("$HOST" root)
OUT=$(mktemp -d /tmp/tconv-gimp3-smoke.XXXXXX)
LOG=$OUT.log
trap 'rm -rf "$OUT" "$LOG"' EXIT
export TCONV_GIMP3_OUT=$OUT

echo "1..12"
n=0 failed=0
ok() {  # ok STATUS DESCRIPTION: STATUS 0 passes; a failure also shows the last command's log
  n=$((n + 1))
  if [[ $1 == 0 ]]; then echo "ok $n - $2"; return; fi
  echo "not ok $n - $2"
  failed=$((failed + 1))
  [[ ! -s $LOG ]] || sed 's/^/#   /' "$LOG" | tail -40
}
# h ARGS...: host.sh with output to $LOG; sets rc and secs
h() {
  local t0=$EPOCHREALTIME
  rc=0
  "$HOST" "$@" >"$LOG" 2>&1 </dev/null || rc=$?
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
}
no_mounts() { ! awk -v r="$ROOT" '$2 == r || index($2, r "/") == 1 { f = 1 } END { exit !f }' /proc/self/mounts; }
png_info() {  # "W H DEPTH COLOURTYPE" from the IHDR of PNG $1
  local b
  read -r -a b < <(od -An -v -tu1 -j16 -N10 "$1")
  [[ $(od -An -c -N4 -j12 "$1" | tr -d ' ') == IHDR ]] || { echo "not-a-png"; return; }
  echo "$(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3])) $(((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7])) ${b[8]} ${b[9]}"
}

# 1-3: the chroot builds, a second ensure is a no-op, and nothing stays mounted.
h ensure
ok "$rc" "ensure builds or finds the chroot in $ROOT (${secs} s)"
if ((rc != 0)); then echo "Bail out! host.sh ensure failed"; exit 1; fi
h ensure
r=$rc; awk -v s="$secs" 'BEGIN { exit !(s < 10) }' || r=1
ok "$r" "second ensure is a no-op (${secs} s)"
no_mounts; ok $? "nothing mounted under $ROOT after ensure"

# 4-5: run propagates the exit status; the mounts and their permissions are as documented.
h run sh -c 'exit 7'
[[ $rc == 7 ]]; ok $? "run propagates the exit status (want 7, got $rc)"
h run sh -c 'test -f /src/tests/gimp3/host.sh && ! touch /src/x && ! touch /usr/x &&
             touch /tmp/x && test "$HOME" = /tmp/home && test -s "$GIMP3_DIRECTORY/pluginrc" &&
             echo shared >/work-out/from-chroot'
[[ $rc == 0 && $(cat "$OUT/from-chroot" 2>/dev/null) == shared ]]
ok $? "run: /src is the repo read-only, / read-only, /tmp and HOME writable, /work-out shared"

# 6-8: a PNG made on the host goes through gimp-file-load, gimp-image-scale, gimp-file-save.
# Written by hand as 8-bit RGB with 24 colours: a tool could have picked a palette PNG,
# which GIMP loads as INDEXED.
png_py='
import struct, sys, zlib
w, h = 6, 4
rows = b"".join(b"\0" + bytes(v for x in range(w) for v in (40*x + 10, 60*y + 20, 255 - 40*x))
                for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                        + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))'
if command -v python3 >/dev/null; then python3 -c "$png_py" >"$OUT/in.png"
else "$HOST" run sh -c 'python3 -c "$1" >/work-out/in.png' sh "$png_py"; fi
h gimp-batch '
(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE "/work-out/in.png"))))
  (display (list "loaded" (car (gimp-image-get-width img)) (car (gimp-image-get-height img))
                 (car (gimp-image-get-base-type img))))
  (gimp-image-scale img 15 10)
  (gimp-file-save RUN-NONINTERACTIVE img "/work-out/out.png" -1)
  (gimp-image-delete img))'
batch_secs=$secs
ok "$rc" "gimp-batch: load, gimp-image-scale, save exits 0 (${secs} s)"
grep -q '(loaded 6 4 0)' "$LOG"; ok $? "GIMP loaded the host PNG as 6x4 RGB"
info=$(png_info "$OUT/out.png" 2>/dev/null || echo missing)
[[ $info == "15 10 8 2" ]]; ok $? "saved PNG is 15x10 8-bit RGB (got: $info)"

# 9: python-fu-eval works (it needs python3-gi and the GIMP typelib).
printf '%s\n' 'from gi.repository import Gimp' 'print("GIMP_VERSION", Gimp.version())' >"$OUT/version.py"
h python-batch "$OUT/version.py"
r=$rc; grep -q '^GIMP_VERSION 3\.' "$LOG" || r=1
ok "$r" "python-batch prints $(grep -o '^GIMP_VERSION .*' "$LOG" || echo 'no GIMP_VERSION') (${secs} s)"

# 10: a failing batch command ends GIMP with an error instead of leaving it running.
h gimp-batch '(gimp-file-load RUN-NONINTERACTIVE "/work-out/no-such-file.png")'
r=0; [[ $rc != 0 && $rc != 124 && $rc != 137 ]] || r=1
ok "$r" "a failing gimp-batch exits non-zero by itself (rc $rc, ${secs} s)"

# 11: the timeout kills a GIMP that runs too long instead of hanging CI.
TCONV_GIMP3_TIMEOUT=1 h gimp-batch '(display "never reached in 1 s")'
r=1; [[ $rc == 124 || $rc == 137 ]] && awk -v s="$secs" 'BEGIN { exit !(s < 20) }' && r=0
ok "$r" "TCONV_GIMP3_TIMEOUT=1 stops GIMP (rc $rc, ${secs} s)"

# 12: after all that, nothing is left mounted.
: >"$LOG"
no_mounts; ok $? "nothing mounted under $ROOT after the runs"

echo "# one gimp-batch call: ${batch_secs} s"
exit $((failed > 0))
