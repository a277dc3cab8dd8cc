#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""tconv upscale, PNG to PNG streamed in bands (docs/streaming.md), against the whole-image
path of the same command (TCONV_NO_STREAM=1: the whole input decoded, the whole output held,
then written). The whole-image path is the reference: its pixels are checked against
independent references by test-upscale.py. Parts:
  1. every PNG kind libpng's reader takes (8/16-bit grey, grey+alpha, RGB, RGBA, an ICC
     profile) gives the same bytes streamed and whole, for 1, 2 and 7 threads; the run says
     it streamed (TCONV_PROFILE=1);
  2. kernels, strides, exact sizes, down- and up-scaling and border modes whose bands read
     input rows beyond their own (the halo, the resampler's support, the mirror border) give
     the same bytes;
  3. a file libpng gives up on half way falls back to GEGL's loader, as without streaming;
     a streamed job interrupted by SIGINT leaves no output and no temporary file;
  4. peak resident memory (VmHWM, printed by tconv under TCONV_PROFILE=1) of a 6000x6000 -> 12000x12000 RGB job
     stays under 150 MiB (the whole-image path needs over 540 MB for the images alone).
Prints TAP.
"""
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

from icc import matrix_icc

import numpy as np

TCONV = os.environ.get("TCONV")
if not TCONV:
    print("Bail out! test-stream.py: set TCONV to the tconv binary")
    sys.exit(2)
TCONV = os.path.abspath(TCONV)

n_tests = 0
failed = 0
WORK = tempfile.mkdtemp(prefix="tconv-stream-test-")
# a private babl/GEGL cache, as test-upscale.py
ENV = dict(os.environ, XDG_CACHE_HOME=os.path.join(WORK, "xdg-cache"), TCONV_PROFILE="1")
ENV.pop("TCONV_NO_STREAM", None)
WHOLE = dict(ENV, TCONV_NO_STREAM="1")
MEMORY_BOUND_MIB = 150


def check(cond, desc):
    global n_tests, failed
    n_tests += 1
    if not cond:
        failed += 1
    desc = " | ".join(str(desc).splitlines())
    print(("ok" if cond else "not ok") + f" {n_tests} - {desc}", flush=True)


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line, flush=True)


def path(name):
    return os.path.join(WORK, name)


COLOR_TYPE = {1: 0, 3: 2, 2: 4, 4: 6}


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))


def write_png(p, a, icc=None):
    """A plain PNG (filter none, no colour chunk but an optional iCCP), 8-bit for uint8."""
    h, w, c = a.shape
    depth = 16 if a.dtype == np.uint16 else 8
    raw = a.astype(">u2" if depth == 16 else "u1").reshape(h, -1).view(np.uint8)
    data = np.concatenate([np.zeros((h, 1), np.uint8), raw], axis=1).tobytes()
    with open(p, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, COLOR_TYPE[c], 0, 0, 0))
                + (chunk(b"iCCP", b"test\0\0" + zlib.compress(icc)) if icc else b"")
                + chunk(b"IDAT", zlib.compress(data, 1)) + chunk(b"IEND", b""))


def image(rng, h, w, c, depth):
    """Smooth colour with noise and, with alpha, a ramp from transparent to opaque."""
    top = 65535 if depth == 16 else 255
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(7 * xx + k) * np.cos(5 * yy - k) for k in range(c)], axis=2)
    v = 0.5 + 0.4 * base + rng.normal(0, 0.05, (h, w, c))
    if c in (2, 4):
        v[:, :, -1] = np.clip(xx + yy - 0.3, 0, 1)
    return np.round(np.clip(v, 0, 1) * top).astype(np.uint16 if depth == 16 else np.uint8)


def run(args, env, timeout=300):
    return subprocess.run([TCONV, "upscale", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def same_bytes(inp, extra, desc, threads=(2,)):
    """Streamed and whole-image outputs of one job are the same file, for each thread count."""
    for t in threads:
        s, w = path("s.png"), path("w.png")
        for p in (s, w):
            if os.path.exists(p):
                os.unlink(p)
        args = ["-i", inp, "--threads", str(t), *extra]
        rs, rw = run([*args, "-o", s], ENV), run([*args, "-o", w], WHOLE)
        streamed = "streamed PNG to PNG" in rs.stderr
        ok = rs.returncode == 0 and rw.returncode == 0 and streamed
        same = ok and open(s, "rb").read() == open(w, "rb").read()
        check(same, f"{desc}, {t} thread(s): streamed == whole image"
              + ("" if same else f" (rc {rs.returncode}/{rw.returncode}, streamed {streamed}: "
                 f"{rs.stderr.strip()[-300:]} {rw.stderr.strip()[-200:]})"))


def part_kinds():
    rng = np.random.default_rng(17)
    adobe = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
    # outputs of several PNG segments (2 MiB of rows) and several bands, odd sizes
    for depth in (8, 16):
        for c in (1, 2, 3, 4):
            h, w = (333, 517) if depth == 8 else (241, 389)
            inp = path(f"k{depth}-{c}.png")
            write_png(inp, image(rng, h, w, c, depth))
            same_bytes(inp, ["--kernel", "bicubic"], f"{depth}-bit, {c} channel(s)", (1, 2, 7))
    for depth, c in ((8, 3), (16, 4)):
        inp = path(f"icc{depth}-{c}.png")
        write_png(inp, image(rng, 301, 409, c, depth), icc=matrix_icc(adobe))
        same_bytes(inp, ["--kernel", "bicubic"], f"{depth}-bit, {c} channels, ICC profile",
                   (1, 2, 7))


def part_reach():
    rng = np.random.default_rng(5)
    rgb, rgba16 = path("r-rgb.png"), path("r-rgba16.png")
    write_png(rgb, image(rng, 301, 457, 3, 8))
    write_png(rgba16, image(rng, 211, 263, 4, 16))
    jobs = [
        (rgb, ["--kernel", "lanczos3", "--scale", "1.37"], "lanczos3 x1.37"),
        (rgb, ["--kernel", "bicubic", "--scale", "0.4"], "bicubic x0.4 (reduction)"),
        (rgb, ["--kernel", "bicubic", "--size", "999x1234"], "bicubic to 999x1234"),
        (rgb, ["--kernel", "lanczos3", "--stride", "3", "--border", "mirror"], "lanczos3 x3 mirror"),
        (rgb, ["--kernel", "bilinear", "--stride", "2,3", "--border", "zero"], "bilinear 2,3 zero"),
        (rgb, ["--stride", "2"], "default (learned) x2"),
        (rgb, ["--stride", "3", "--border", "mirror"], "default (learned) x3 mirror"),
        (rgb, ["--kernel", "lanczos3", "--stride", "4", "--linear"], "lanczos3 x4 linear"),
        (rgba16, ["--kernel", "mitchell", "--scale", "2.5", "--border", "mirror"],
         "16-bit RGBA mitchell x2.5 mirror"),
        (rgba16, ["--kernel", "lanczos3", "--size", "263x700"], "16-bit RGBA lanczos3 to 263x700"),
    ]
    for inp, extra, desc in jobs:
        same_bytes(inp, extra, desc)


def part_fallback():
    # A file that libpng gives up on half way (truncated in its pixel data): the streamed run
    # falls back to GEGL's loader, which reports it; the result is the whole-image path's.
    inp = path("trunc.png")
    write_png(inp, image(np.random.default_rng(8), 1500, 2000, 3, 8))  # beyond the first window
    data = open(inp, "rb").read()
    with open(inp, "wb") as f:
        f.write(data[:len(data) * 4 // 5])
    d = path("trunc")
    os.makedirs(d)
    out = os.path.join(d, "out.png")
    rs = run(["-i", inp, "-o", out, "--kernel", "bicubic"], ENV)
    left = os.listdir(d)
    rw = run(["-i", inp, "-o", out, "--kernel", "bicubic"], WHOLE)
    msg = lambda r: [l for l in r.stderr.splitlines() if not l.startswith("tconv-profile")]
    check(rs.returncode == rw.returncode == 1 and left == [] and msg(rs) == msg(rw)
          and "stream fell back" in rs.stderr,
          f"truncated input: the streamed run falls back and fails as the whole-image run "
          f"(exit {rs.returncode}/{rw.returncode}, left {left}, {msg(rs)} vs {msg(rw)})")


def temp_files(d):
    return [n for n in os.listdir(d) if n.startswith(".tconv-")]


def part_sigint():
    d = path("sigint")
    os.makedirs(d)
    inp, out = path("big-in.png"), os.path.join(d, "out.png")
    write_png(inp, image(np.random.default_rng(3), 2500, 2500, 3, 8))
    p = subprocess.Popen([TCONV, "upscale", "-i", inp, "-o", out, "--kernel", "lanczos3",
                          "--stride", "3", "--threads", "2"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    # interrupt once the temporary output holds part of the image
    t0, seen = time.monotonic(), 0
    while time.monotonic() - t0 < 60 and p.poll() is None:
        tmp = temp_files(d)
        if tmp:
            # the temporary file sits in a private folder .tconv-XXXXXX (cli/tconv-output.c)
            t = os.path.join(d, tmp[0])
            try:
                seen = sum(os.path.getsize(os.path.join(t, f)) for f in os.listdir(t)) \
                    if os.path.isdir(t) else os.path.getsize(t)
            except OSError:
                seen = 0
            if seen > (1 << 20):
                break
        time.sleep(0.02)
    running = p.poll() is None
    if running:
        p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=60)
    p.stderr.close()
    check(running and seen > (1 << 20) and rc == -signal.SIGINT,
          f"SIGINT reached a streamed job with {seen} bytes written (exit {rc})")
    left = os.listdir(d)
    check(left == [], f"SIGINT: no output and no temporary file left ({left})")


def part_memory():
    h = w = 6000
    inp, out = path("mem-in.png"), path("mem-out.png")
    rng = np.random.default_rng(9)
    # written in bands: the test's own memory stays small too
    with open(inp, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        z = zlib.compressobj(1)
        xx = np.arange(w) / w
        for y0 in range(0, h, 500):
            yy = (np.arange(y0, y0 + 500) / h)[:, None]
            band = np.stack([0.5 + 0.4 * np.sin(9 * xx + k) * np.cos(7 * yy - k) for k in range(3)],
                            axis=2)
            band = np.round(np.clip(band + rng.normal(0, 0.03, band.shape), 0, 1) * 255)
            raw = band.astype(np.uint8).reshape(500, -1)
            f.write(chunk(b"IDAT", z.compress(np.concatenate(
                [np.zeros((500, 1), np.uint8), raw], axis=1).tobytes())))
        f.write(chunk(b"IDAT", z.flush()) + chunk(b"IEND", b""))
    p = subprocess.Popen([TCONV, "upscale", "-i", inp, "-o", out, "--kernel", "bicubic"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    err = p.stderr.read().decode(errors="replace")
    p.wait()
    # VmHWM as tconv reads it from /proc/self/status at its end (TCONV_PROFILE=1): the
    # child's ru_maxrss would also count the pages it shared with this process before exec
    m = re.search(r"peak RSS (\d+) kB", err)
    peak_mib = int(m.group(1)) / 1024.0 if m else float("inf")
    ok = p.returncode == 0 and "streamed PNG to PNG" in err and m is not None
    check(ok, f"6000x6000 -> 12000x12000 streamed (exit {p.returncode})")
    size_ok = ok and open(out, "rb").read(24)[16:24] == struct.pack(">II", 12000, 12000)
    check(size_ok, "the output is 12000x12000")
    desc = f"peak RSS {peak_mib:.0f} MiB < {MEMORY_BOUND_MIB} MiB (whole image: > 540 MB)"
    if sanitized():
        # AddressSanitizer's shadow memory and its quarantine of freed blocks are resident
        # too: the figure is then the sanitizer's, not tconv's (the plain build checks it)
        skip(desc, "tconv is built with AddressSanitizer")
    else:
        check(ok and peak_mib < MEMORY_BOUND_MIB, desc)


def sanitized():
    """True when TCONV links AddressSanitizer's runtime (the sanitizer build of run-all.sh)."""
    with open(TCONV, "rb") as f:
        return b"__asan_init" in f.read()


def skip(desc, why):
    global n_tests
    n_tests += 1
    print(f"ok {n_tests} - {desc} # SKIP {why}", flush=True)


def main():
    try:
        part_kinds()
        part_reach()
        part_fallback()
        part_sigint()
        part_memory()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    print(f"1..{n_tests}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
