#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Faults lose nothing: `tconv upscale` and `tconv learn` under injected faults must leave no
# output file, no temporary .tconv-* file (nor any other new file) in the output folder, and
# their inputs byte for byte as they were (sha256). Faults:
#   - SIGINT, SIGTERM and SIGHUP mid-run: while computing, and (upscale) while the output is
#     being written (its temporary file exists): exit 1/2 or death by that signal;
#   - an unwritable output folder: a read-only bind mount and a read-only tmpfs (root, in a
#     private mount namespace), and a path under /proc (anyone): exit 1/2;
#   - a full disk: a 256 KiB tmpfs (root), and a file-size limit (ulimit -f): exit 1/2;
#   - failed allocations: an LD_PRELOAD allocator (failing-malloc.c) that refuses every
#     request above a size the job needs but GEGL's start-up does not: exit 1/2.
# A fault that cannot be created here (no root, a process that finished before the signal)
# is a skipped test, never a pass. Prints TAP and, as diagnostics,
# "faults injected: N, outputs lost: M" (M must be 0).
#
# Environment: TCONV (the binary), TCONV_FAILING_MALLOC (the LD_PRELOAD module; optional),
# PYTHON (default /usr/bin/python3), TCONV_FAULTS (the sections to run, default
# "signals unwritable full alloc").
set -u

if [ -z "${TCONV:-}" ] || [ ! -x "$TCONV" ]; then
  echo "Bail out! test-faults.sh: set TCONV to the tconv binary"
  exit 1
fi

# As root, run in a private mount namespace: the tmpfs and bind mounts made here vanish with
# the process whatever happens, and nobody else sees them.
if [ "$(id -u)" = 0 ] && [ -z "${TCONV_FAULTS_INNER:-}" ] \
   && unshare --mount --propagation private true 2>/dev/null; then
  TCONV_FAULTS_INNER=1 exec unshare --mount --propagation private bash "$0" "$@"
fi

PYTHON=${PYTHON:-/usr/bin/python3}
W=$(mktemp -d "${TMPDIR:-/tmp}/tconv-faults-XXXXXX")
mounts=()
cleanup () {
  for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT

n=0
n_fail=0
injected=0
lost=0

ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); n_fail=$((n_fail + 1)); echo "not ok $n - $1"; }
skip () { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
diag () { echo "# $*"; }

sections=" ${TCONV_FAULTS:-signals unwritable full alloc} "
want () { [[ "$sections" == *" $1 "* ]]; }

is_root=0
[ "$(id -u)" = 0 ] && [ -n "${TCONV_FAULTS_INNER:-}" ] && is_root=1
asan=0
if ldd "$TCONV" 2>/dev/null | grep -q 'libasan\|libclang_rt.asan'; then asan=1; fi

# ---- inputs ----------------------------------------------------------------------------

mkdir -p "$W/in" "$W/out"
"$PYTHON" - "$W/in" <<'EOF' || { echo "Bail out! cannot write the test images"; exit 1; }
import os, struct, sys, zlib

def png(path, w, h, seed):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    # rows of a pseudo-random line, shifted per row: detail everywhere, cheap to make
    x = seed
    line = bytearray()
    for _ in range(w * 3):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        line.append(x >> 23)
    line = bytes(line)
    raw = b"".join(b"\0" + line[(y * 7) % len(line):] + line[:(y * 7) % len(line)]
                   for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))

d = sys.argv[1]
png(os.path.join(d, "big.png"), 2000, 1500, 1)   # x2: 4000x3000, about 32 MB of PNG
png(os.path.join(d, "mid.png"), 600, 400, 2)     # x2: about 1 MB of PNG
png(os.path.join(d, "small.png"), 96, 64, 3)
EOF

inputs=("$W/in/big.png" "$W/in/mid.png" "$W/in/small.png")
declare -A before
for f in "${inputs[@]}"; do before[$f]=$(sha256sum "$f" | cut -d' ' -f1); done

inputs_unchanged () {
  local f
  for f in "${inputs[@]}"; do
    [ -f "$f" ] || return 1
    [ "$(sha256sum "$f" | cut -d' ' -f1)" = "${before[$f]}" ] || return 1
  done
  return 0
}

# The names in a folder (in /proc, whose process entries come and go, only those of tconv).
listing () {
  if [ "$1" = /proc ]; then
    ls -A /proc | grep -i tconv | tr '\n' ' '
  else
    (cd "$1" && ls -A | LC_ALL=C sort | tr '\n' ' ')
  fi
}

# verdict NAME DIR LISTING-BEFORE RC WANT-RC-REGEX STDERR-FILE
# The fault happened: check exit status, folder and inputs.
verdict () {
  local name=$1 dir=$2 was=$3 rc=$4 want=$5 err=$6
  local now msg
  now=$(listing "$dir")
  msg=$(tail -c 300 "$err" 2>/dev/null | tr '\n' ' ')
  injected=$((injected + 1))
  if [[ "$rc" =~ ^($want)$ ]]; then
    ok "$name: exit status $rc${msg:+ ($msg)}"
  else
    not_ok "$name: exit status $rc, wanted $want${msg:+ ($msg)}"
  fi
  if [ "$now" = "$was" ]; then
    ok "$name: no output and no temporary file in the output folder"
  else
    not_ok "$name: the output folder changed: before [$was] after [$now]"
    lost=$((lost + 1))
  fi
  if inputs_unchanged; then
    ok "$name: inputs byte-identical (sha256)"
  else
    not_ok "$name: an input changed"
    lost=$((lost + 1))
  fi
}

# Runs tconv in the background with SIGINT/SIGTERM/SIGHUP at their defaults (a
# non-interactive shell would start it with SIGINT ignored).
start () { env --default-signal=INT,TERM,HUP "$TCONV" "$@" 2>"$W/err" >/dev/null & pid=$!; }

# ---- 1. signals ------------------------------------------------------------------------

# signal_case NAME SIGNAL WHEN(compute|write) DIR ARGS...
signal_case () {
  local name=$1 sig=$2 when=$3 dir=$4
  shift 4
  local was rc t=0 sent=0
  was=$(listing "$dir")
  start "$@"
  if [ "$when" = write ]; then
    # as soon as the temporary output exists (the data is being written)
    while kill -0 "$pid" 2>/dev/null && [ $t -lt 6000 ]; do
      if compgen -G "$dir/.tconv-*" >/dev/null; then
        sleep 0.05
        kill -s "$sig" "$pid" 2>/dev/null && sent=1
        break
      fi
      sleep 0.01
      t=$((t + 1))
    done
  else
    # past GEGL's start-up (a few tenths of a second), before the output file exists
    sleep 0.4
    if kill -0 "$pid" 2>/dev/null && ! compgen -G "$dir/.tconv-*" >/dev/null; then
      kill -s "$sig" "$pid" 2>/dev/null && sent=1
    fi
  fi
  wait "$pid"
  rc=$?
  if [ $sent = 0 ]; then
    skip "$name" "tconv finished (exit $rc) before the signal could be sent"
    rm -f "$dir"/*.png "$dir"/*.tconv "$dir"/.tconv-*
    return
  fi
  local signo
  signo=$(kill -l "$sig")
  verdict "$name" "$dir" "$was" "$rc" "1|2|$((128 + signo))" "$W/err"
}

if want signals; then
up_big=(upscale -i "$W/in/big.png" -k bicubic -o "$W/out/big-x2.png")
signal_case "upscale, SIGINT while computing" INT compute "$W/out" "${up_big[@]}"
signal_case "upscale, SIGTERM while computing" TERM compute "$W/out" "${up_big[@]}"
signal_case "upscale, SIGINT while writing the output" INT write "$W/out" "${up_big[@]}"
signal_case "upscale, SIGTERM while writing the output" TERM write "$W/out" "${up_big[@]}"
signal_case "upscale, SIGHUP while writing the output" HUP write "$W/out" "${up_big[@]}"
learn_args=(learn -q -s 2 -k 12 "$W/in/big.png" "$W/in/big.png" "$W/in/mid.png"
            -o "$W/out/learned.tconv")
signal_case "learn, SIGINT mid-run" INT compute "$W/out" "${learn_args[@]}"
signal_case "learn, SIGTERM mid-run" TERM compute "$W/out" "${learn_args[@]}"
fi

# ---- 2. unwritable output folder -------------------------------------------------------

# run_case NAME DIR ARGS...: runs to the end and checks
run_case () {
  local name=$1 dir=$2
  shift 2
  local was rc
  was=$(listing "$dir")
  env --default-signal=INT,TERM,HUP "$TCONV" "$@" 2>"$W/err" >/dev/null
  rc=$?
  verdict "$name" "$dir" "$was" "$rc" "1|2" "$W/err"
}

up_mid () { echo upscale -i "$W/in/mid.png" -k bicubic -o "$1"; }

if want unwritable; then
if [ $is_root = 1 ]; then
  # read-only bind mount of a folder that also holds an input
  mkdir -p "$W/rw" "$W/ro"
  cp "$W/in/small.png" "$W/rw/small.png"
  before[$W/ro/small.png]=${before[$W/in/small.png]}
  inputs+=("$W/ro/small.png")
  if mount --bind -o ro "$W/rw" "$W/ro" 2>/dev/null && mounts+=("$W/ro") \
     && ! touch "$W/ro/.probe" 2>/dev/null; then
    run_case "upscale into a read-only bind mount" "$W/ro" \
      upscale -i "$W/ro/small.png" -k bicubic -o "$W/ro/out.png"
    run_case "learn into a read-only bind mount" "$W/ro" \
      learn -q -s 2 -k 8 "$W/ro/small.png" -o "$W/ro/out.tconv"
  else
    skip "upscale into a read-only bind mount" "cannot make a read-only bind mount"
    skip "learn into a read-only bind mount" "cannot make a read-only bind mount"
  fi
  mkdir -p "$W/rotmp"
  if mount -t tmpfs -o ro,size=1m tmpfs "$W/rotmp" 2>/dev/null && mounts+=("$W/rotmp"); then
    # shellcheck disable=SC2046
    run_case "upscale into a read-only tmpfs" "$W/rotmp" $(up_mid "$W/rotmp/out.png")
  else
    skip "upscale into a read-only tmpfs" "cannot mount a tmpfs"
  fi
else
  skip "upscale into a read-only bind mount" "needs root (chmod does not stop root)"
  skip "learn into a read-only bind mount" "needs root"
  skip "upscale into a read-only tmpfs" "needs root"
fi
# /proc accepts no new files, for root too
run_case "upscale into /proc" /proc upscale -i "$W/in/small.png" -k bicubic -o /proc/tconv-out.png
run_case "learn into /proc" /proc learn -q -s 2 -k 8 "$W/in/small.png" -o /proc/tconv-out.tconv
fi

# ---- 3. full disk ----------------------------------------------------------------------

if want full; then
if [ $is_root = 1 ]; then
  mkdir -p "$W/full"
  if mount -t tmpfs -o size=256k tmpfs "$W/full" 2>/dev/null && mounts+=("$W/full"); then
    # the x2 output of mid.png is about 1 MB of PNG
    # shellcheck disable=SC2046
    run_case "upscale onto a full 256 KiB tmpfs" "$W/full" $(up_mid "$W/full/out.png")
    # learn writes a few KB: fill the tmpfs to the last byte first
    dd if=/dev/zero of="$W/full/filler" bs=4096 2>/dev/null
    before[$W/full/filler]=$(sha256sum "$W/full/filler" | cut -d' ' -f1)
    inputs+=("$W/full/filler")
    run_case "learn onto a full tmpfs" "$W/full" \
      learn -q -s 2 -k 8 "$W/in/small.png" -o "$W/full/out.tconv"
  else
    skip "upscale onto a full 256 KiB tmpfs" "cannot mount a tmpfs"
    skip "learn onto a full tmpfs" "cannot mount a tmpfs"
  fi
else
  skip "upscale onto a full 256 KiB tmpfs" "needs root"
  skip "learn onto a full tmpfs" "needs root"
fi

# A file-size limit (ulimit -f, in 512-byte blocks): past it a write fails with EFBIG, or
# SIGXFSZ kills a process that does not ignore it.
fsize_case () {
  local name=$1 blocks=$2 dir=$3
  shift 3
  local was rc
  was=$(listing "$dir")
  (ulimit -f "$blocks" && exec env --default-signal=INT,TERM,HUP "$TCONV" "$@") 2>"$W/err" >/dev/null
  rc=$?
  verdict "$name" "$dir" "$was" "$rc" "1|2" "$W/err"
}
# shellcheck disable=SC2046
fsize_case "upscale past a 256 KiB file-size limit" 512 "$W/out" $(up_mid "$W/out/mid-x2.png")
fsize_case "learn past a 512-byte file-size limit" 1 "$W/out" \
  learn -q -s 2 -k 8 "$W/in/small.png" -o "$W/out/small.tconv"
fi

# ---- 4. failed allocations -------------------------------------------------------------

shim=${TCONV_FAILING_MALLOC:-}
# alloc_case NAME DIR THRESHOLD ARGS...
alloc_case () {
  local name=$1 dir=$2 above=$3
  shift 3
  local was rc failed
  was=$(listing "$dir")
  env --default-signal=INT,TERM,HUP LD_PRELOAD="$shim" TCONV_FAIL_MALLOC_ABOVE="$above" \
    TCONV_FAIL_MALLOC_REPORT=1 "$TCONV" "$@" 2>"$W/err" >/dev/null
  rc=$?
  failed=$(sed -n 's/^failing-malloc: \([0-9]*\) allocations failed.*/\1/p' "$W/err" | tail -n 1)
  if [ "${failed:-0}" -eq 0 ]; then
    skip "$name" "no allocation was refused (exit $rc): the fault did not happen"
    rm -f "$dir"/*.png "$dir"/*.tconv "$dir"/.tconv-*
    return
  fi
  sed -i '/^failing-malloc: /d' "$W/err"
  verdict "$name" "$dir" "$was" "$rc" "1|2" "$W/err"
}

if ! want alloc; then
  :
elif [ -z "$shim" ] || [ ! -f "$shim" ]; then
  skip "upscale with failing allocations" "TCONV_FAILING_MALLOC not set"
  skip "learn with failing allocations" "TCONV_FAILING_MALLOC not set"
elif [ $asan = 1 ]; then
  skip "upscale with failing allocations" "sanitizer build: ASan owns malloc"
  skip "learn with failing allocations" "sanitizer build: ASan owns malloc"
else
  # babl allocates lookup tables of up to 256 MiB (2^24 RGB u8 colours x 16 bytes), at
  # start-up or later depending on its fish cache, and does not check for NULL: refuse only
  # requests above both that and the largest of a run that stops right after start-up.
  env LD_PRELOAD="$shim" TCONV_FAIL_MALLOC_REPORT=1 "$TCONV" upscale -i "$W/in/small.png" \
    -o "$W/out/x.unknown-extension" >/dev/null 2>"$W/err"
  startup=$(sed -n 's/.*largest request \([0-9]*\) bytes.*/\1/p' "$W/err" | tail -n 1)
  startup=${startup:-0}
  above=$(( (startup > (256 << 20) ? startup : (256 << 20)) + (16 << 20) ))
  diag "largest allocation at start-up: ${startup:-?} bytes; refusing requests above $above"
  # a 500000 x 64 output: one band of output rows alone is 500000 * 3 * 4 * 64 = 384 MB
  alloc_case "upscale with failing allocations" "$W/out" "$above" \
    upscale -i "$W/in/small.png" -k bicubic --size 500000x64 -o "$W/out/wide.png"
  # learn holds the whole image as 16-bit RGB: a 12000 x 12000 image needs 864 MB
  "$PYTHON" - "$W/in/huge.png" <<'EOF'
import struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
w = h = 12000
row = b"\0" + bytes(range(256)) * (w // 256) + bytes(w % 256)
z = zlib.compressobj(9)
data = b"".join(z.compress(row) for _ in range(h)) + z.flush()
with open(sys.argv[1], "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", data) + chunk(b"IEND", b""))
EOF
  before[$W/in/huge.png]=$(sha256sum "$W/in/huge.png" | cut -d' ' -f1)
  inputs+=("$W/in/huge.png")
  alloc_case "learn with failing allocations" "$W/out" "$above" \
    learn -q -s 2 -k 8 "$W/in/huge.png" -o "$W/out/huge.tconv"
fi

diag "faults injected: $injected, outputs lost: $lost"
echo "1..$n"
[ $n_fail -eq 0 ]
