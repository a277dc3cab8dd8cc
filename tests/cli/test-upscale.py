#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""tconv upscale: image files through the GEGL pipeline, against independent references.

Every expected image is computed here from the definition: bilinear and Keys bicubic
(a = -0.5) interpolation with output x at input coordinate (x + 0.5)/s - 0.5, written as a
dense interpolation matrix per axis with the border mode applied to the indices, in float64
with numpy. PNG files are written by a small encoder below and read by PIL, except 16-bit
colour, which PIL cannot hold, read by a small decoder below; JPEG and TIFF by PIL. Parts:
  1. bilinear/bicubic equal the direct computation within 1 LSB at 8 bits (interior and
     edges), grey and colour, strides 2 and 3, and PIL's own bilinear on the interior;
  2. borders: a constant image stays constant for every kernel and every border mode but
     zero; zero/mirror/wrap equal their references; a wrap output is seamless (shifting the
     input shifts the output exactly, and the tiled output has no seam);
  3. alpha: an opaque disc on a transparent, differently coloured background gets no fringe;
  4. precision and channels: 16-bit grey and colour ramps come out 16-bit with > 256 levels;
     grey, grey+alpha, RGB and RGBA keep their channels; JPEG and TIFF in and out;
  5. 1, 2 and 7 threads (and a small memory budget) give identical bytes;
  6. --size / --scale give the exact size, with centres aligned ((x + 0.5) * in/out - 0.5);
  7. errors: each exits 1 or 2 with a message, leaves no output and no temporary file, and
     never changes the input.
Prints TAP.
"""
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

from icc import matrix_icc

import numpy as np

try:
    from PIL import Image
except ImportError:  # PIL is used only for JPEG/TIFF and one cross-check
    Image = None

TCONV = os.environ.get("TCONV")
if not TCONV:
    print("Bail out! test-upscale.py: set TCONV to the tconv binary")
    sys.exit(2)
TCONV = os.path.abspath(TCONV)
ROOT = os.environ.get("TCONV_SOURCE_ROOT",
                      os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "..")))

n_tests = 0
failed = 0
WORK = tempfile.mkdtemp(prefix="tconv-upscale-test-")


def check(cond, desc):
    global n_tests, failed
    n_tests += 1
    if not cond:
        failed += 1
    desc = " | ".join(str(desc).splitlines())  # one TAP line per result
    print(("ok" if cond else "not ok") + f" {n_tests} - {desc}", flush=True)


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line, flush=True)


# A private cache folder for babl and GEGL: the tests neither read nor grow the user's babl
# conversion cache (babl 0.1.98 builds 256 MiB lookup tables at start-up for conversions the
# cache records as heavily used, which makes every process start slowly), nor use their swap.
ENV = dict(os.environ, XDG_CACHE_HOME=os.path.join(WORK, "xdg-cache"))


def run(*args, timeout=120):
    t0 = time.monotonic()
    r = subprocess.run([TCONV, "upscale", *args], capture_output=True, text=True,
                       timeout=timeout, env=ENV)
    if time.monotonic() - t0 > float(os.environ.get("TCONV_TEST_SLOW", "5")):
        diag(f"slow ({time.monotonic() - t0:.1f} s): tconv upscale {' '.join(args)}")
    return r


def path(name):
    return os.path.join(WORK, name)


# ---------------------------------------------------------------------------------------------
# PNG, independently of PIL: 8/16-bit, grey/grey+alpha/RGB/RGBA, no interlace.

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
COLOR_TYPE = {1: 0, 3: 2, 2: 4, 4: 6}


def write_png(p, a, depth=None):
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[:, :, None]
    depth = depth or (16 if a.dtype == np.uint16 else 8)
    h, w, c = a.shape
    raw = a.astype(">u2" if depth == 16 else "u1").reshape(h, -1).view(np.uint8)
    data = b"".join(b"\0" + raw[y].tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(p, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, COLOR_TYPE[c], 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(data, 6)) + chunk(b"IEND", b""))


def png_header(p):
    """(width, height, bit depth, colour type) from the IHDR chunk."""
    with open(p, "rb") as f:
        b = f.read(33)
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR", "not a PNG"
    w, h, depth, ctype = struct.unpack(">IIBB", b[16:26])
    return w, h, depth, ctype


def read_png(p):
    """Returns (array h x w x c as uint8 or uint16, bit depth, colour type). PIL decodes what
    it holds exactly (8-bit, 16-bit grey); 16-bit colour goes through the decoder below."""
    w, h, depth, ctype = png_header(p)
    if Image is not None and (depth == 8 or ctype == 0):
        a = np.asarray(Image.open(p))
        a = a.astype(np.uint16 if depth == 16 else np.uint8)
        return a.reshape(h, w, CHANNELS[ctype]), depth, ctype
    return decode_png(p)


def decode_png(p):
    with open(p, "rb") as f:
        b = f.read()
    pos, idat, ihdr = 8, [], None
    while pos < len(b):
        n, t = struct.unpack(">I4s", b[pos:pos + 8])
        d = b[pos + 8:pos + 8 + n]
        if t == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", d)
        elif t == b"IDAT":
            idat.append(d)
        elif t == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth in (8, 16) and ctype in CHANNELS and interlace == 0, ihdr
    c = CHANNELS[ctype]
    bpp = c * depth // 8
    stride = w * bpp
    raw = zlib.decompress(b"".join(idat))
    rows, prev = [], [0] * stride
    for y in range(h):
        ft, line = raw[y * (stride + 1)], raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        cur = [0] * stride
        for i in range(stride):
            left = cur[i - bpp] if i >= bpp else 0
            up = prev[i]
            if ft == 0:
                pred = 0
            elif ft == 1:
                pred = left
            elif ft == 2:
                pred = up
            elif ft == 3:
                pred = (left + up) >> 1
            else:  # Paeth
                ul = prev[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(up - ul), abs(left - ul), abs(left + up - 2 * ul)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
            cur[i] = (line[i] + pred) & 255
        rows.append(cur)
        prev = cur
    px = np.array(rows, np.uint8)
    if depth == 16:
        px = px.reshape(h, w * c, 2)
        px = (px[:, :, 0].astype(np.uint16) << 8) | px[:, :, 1]
    return px.reshape(h, w, c), depth, ctype


# ---------------------------------------------------------------------------------------------
# The references: interpolation matrices per axis.

def keys(t):
    t = abs(t)
    if t < 1:
        return 1.5 * t ** 3 - 2.5 * t ** 2 + 1
    if t < 2:
        return -0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2
    return 0.0


def tent(t):
    return max(0.0, 1 - abs(t))


FILTERS = {"bilinear": (tent, 1), "bicubic": (keys, 2)}


def border_index(i, n, border):
    if 0 <= i < n:
        return i
    if border == "clamp":
        return 0 if i < 0 else n - 1
    if border == "wrap":
        return i % n
    if border == "mirror":
        if n == 1:
            return 0
        p = 2 * (n - 1)
        j = i % p
        return j if j < n else p - j
    return None  # zero


def interp_matrix(n_in, n_out, kind, border):
    f, radius = FILTERS[kind]
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        u = (o + 0.5) * n_in / n_out - 0.5
        for i in range(int(np.floor(u - radius)), int(np.ceil(u + radius)) + 1):
            j = border_index(i, n_in, border)
            if j is not None:
                m[o, j] += f(i - u)
    return m


def interpolate(img, s, kind, border="clamp"):
    """img: h x w x c floats; exact s x interpolation."""
    h, w = img.shape[:2]
    my = interp_matrix(h, h * s, kind, border)
    mx = interp_matrix(w, w * s, kind, border)
    return np.einsum("yi,ixc->yxc", my, np.einsum("xj,ijc->ixc", mx, img))


def to_u8(v):
    return np.clip(np.floor(v * 255 + 0.5), 0, 255).astype(np.int64)


def rng_image(seed, h, w, c, smooth=False):
    r = np.random.default_rng(seed)
    a = r.random((h, w, c))
    if smooth:  # a few low frequencies: photo-like, no clipping in PIL's two passes
        y, x = np.mgrid[0:h, 0:w] / max(h, w)
        a = np.stack([0.5 + 0.2 * np.sin(6 * x + k) * np.cos(4 * y - k) + 0.15 * np.sin(3 * x * y + k)
                      for k in range(c)], axis=2)
    return a


def sha(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def upscale_ok(args, out, desc):
    r = run(*args)
    ok = r.returncode == 0 and os.path.exists(out)
    check(ok, f"{desc}: exits 0 and writes {os.path.basename(out)}"
          + ("" if ok else f" (exit {r.returncode}: {r.stderr.strip()})"))
    return ok


# ---------------------------------------------------------------------------------------------
# 1. Interpolation against the direct computation.

def part_interpolation():
    for kind, s, c, seed in [("bilinear", 2, 3, 1), ("bicubic", 2, 3, 2), ("bicubic", 3, 1, 3),
                             ("bilinear", 3, 4, 4)]:
        src = (rng_image(seed, 17, 23, c) * 255).round()
        if c == 4:
            src[:, :, 3] = 255  # opaque: alpha handling has its own part
        inp, out = path(f"interp-{kind}-{s}-{c}.png"), path(f"interp-{kind}-{s}-{c}-out.png")
        write_png(inp, src.astype(np.uint8))
        if not upscale_ok(["-i", inp, "-o", out, "--kernel", kind, "--stride", str(s)], out,
                          f"{kind} x{s}, {c} channel(s)"):
            continue
        got, depth, ctype = read_png(out)
        want = to_u8(interpolate(src / 255.0, s, kind))
        check(got.shape == want.shape and depth == 8 and ctype == COLOR_TYPE[c],
              f"{kind} x{s}: {want.shape[1]}x{want.shape[0]}, 8-bit, {c} channel(s) "
              f"(got {got.shape}, depth {depth}, colour type {ctype})")
        if got.shape != want.shape:
            continue
        d = np.abs(got.astype(np.int64) - want)
        m = 2 * s
        check(d[m:-m, m:-m].max() <= 1,
              f"{kind} x{s}: interior within 1 LSB of the direct computation (max {d[m:-m, m:-m].max()})")
        check(d.max() <= 1, f"{kind} x{s}: edges too, with clamp borders (max {d.max()})")

    # PIL's bilinear up-sampling uses the same alignment (its bicubic clips between passes).
    if Image is not None:
        src = (rng_image(5, 20, 26, 3, smooth=True) * 255).round().astype(np.uint8)
        inp, out = path("pil.png"), path("pil-out.png")
        write_png(inp, src)
        if upscale_ok(["-i", inp, "-o", out, "--kernel", "bilinear"], out, "bilinear for PIL"):
            got = read_png(out)[0].astype(np.int64)
            pil = np.asarray(Image.fromarray(src).resize((52, 40), Image.BILINEAR)).astype(np.int64)
            d = np.abs(got - pil)[2:-2, 2:-2]
            check(d.max() <= 1, f"bilinear x2 equals PIL's BILINEAR within 1 LSB on the interior (max {d.max()})")


# ---------------------------------------------------------------------------------------------
# 2. Borders.



def part_borders():
    const = np.zeros((7, 9, 3), np.uint8) + np.array([173, 64, 221], np.uint8)
    inp = path("const.png")
    write_png(inp, const)
    # (tests/pipeline/test-pipeline.c covers every kernel with every border, in memory)
    for border, kernels in [("clamp", ["bilinear", "lanczos3", "bspline"]), ("mirror", ["bicubic"]),
                            ("wrap", ["mitchell"])]:
        bad = []
        for k in kernels:
            out = path(f"const-{k}-{border}.png")
            r = run("-i", inp, "-o", out, "--kernel", k, "--border", border)
            if r.returncode != 0:
                bad.append(f"{k}: exit {r.returncode} {r.stderr.strip()}")
                continue
            got = read_png(out)[0]
            if got.shape != (14, 18, 3) or not (got == const[0, 0]).all():
                bad.append(f"{k}: {np.unique(got.reshape(-1, 3), axis=0)[:4].tolist()}")
        check(not bad, f"a constant image stays constant to the edge with {', '.join(kernels)}, --border {border}")
        for b in bad:
            diag(b)
    # zero: the pure transposed convolution darkens the edges, and equals its reference
    out = path("const-zero.png")
    if upscale_ok(["-i", inp, "-o", out, "--kernel", "bilinear", "--border", "zero"], out, "--border zero"):
        got = read_png(out)[0]
        check((got[2:-2, 2:-2] == const[0, 0]).all() and (got[0, 0] < const[0, 0]).all(),
              "--border zero: interior constant, corner darker (zeros outside)")

    src = (rng_image(7, 12, 16, 3) * 255).round()
    inp = path("tex.png")
    write_png(inp, src.astype(np.uint8))
    for border in ["zero", "mirror", "wrap"]:
        out = path(f"tex-{border}.png")
        if upscale_ok(["-i", inp, "-o", out, "--kernel", "bicubic", "--border", border], out,
                      f"bicubic --border {border}"):
            got = read_png(out)[0].astype(np.int64)
            want = to_u8(interpolate(src / 255.0, 2, "bicubic", border))
            d = np.abs(got - want)
            check(d.max() <= 1, f"--border {border} equals its reference everywhere within 1 LSB (max {d.max()})")
            if border == "wrap":
                wrap_out = got

    # Seamless: the output of a shifted texture is the shifted output, to the bit, so the
    # tiled output has no seam; and across the seam it continues the interior's statistics.
    rolled = np.roll(src, (5, 3), axis=(0, 1))
    inp2, out2 = path("tex-rolled.png"), path("tex-rolled-wrap.png")
    write_png(inp2, rolled.astype(np.uint8))
    if upscale_ok(["-i", inp2, "-o", out2, "--kernel", "bicubic", "--border", "wrap"], out2,
                  "--border wrap, shifted texture"):
        got2 = read_png(out2)[0].astype(np.int64)
        check((got2 == np.roll(wrap_out, (10, 6), axis=(0, 1))).all(),
              "--border wrap: shifting the input by (5, 3) shifts the output by (10, 6) exactly (seamless)")
        tiled = np.tile(wrap_out, (2, 2, 1))
        seam = np.abs(np.diff(tiled[:, 30:34].astype(np.int64), axis=1)).max()
        inner = np.abs(np.diff(wrap_out.astype(np.int64), axis=1)).max()
        check(seam <= inner, f"--border wrap: the tiled output's seam steps ({seam}) are no larger than interior steps ({inner})")
        clamp = path("tex-clamp.png")
        if upscale_ok(["-i", inp, "-o", clamp, "--kernel", "bicubic"], clamp, "clamp, for contrast"):
            got_c = read_png(clamp)[0].astype(np.int64)
            check(not (np.roll(got_c, (10, 6), axis=(0, 1))
                       == read_png(out2)[0].astype(np.int64)).all(),
                  "the seamless check can fail: clamp borders are not shift-invariant")


# ---------------------------------------------------------------------------------------------
# 3. Alpha: no fringe.

def part_alpha():
    n = 40
    y, x = np.mgrid[0:n, 0:n]
    disc = (x - 19.3) ** 2 + (y - 20.1) ** 2 < 12.5 ** 2
    rgba = np.zeros((n, n, 4), np.uint8)
    rgba[...] = [0, 255, 255, 0]  # transparent cyan
    rgba[disc] = [255, 40, 0, 255]  # opaque orange
    inp = path("disc.png")
    write_png(inp, rgba)
    for kind, extra in [("bicubic", []), ("lanczos3", []), ("bicubic", ["--linear"]),
                        ("bilinear", ["--stride", "3"])]:
        out = path(f"disc-{kind}{''.join(extra)}.png")
        if not upscale_ok(["-i", inp, "-o", out, "--kernel", kind, *extra], out,
                          f"disc {kind} {' '.join(extra)}"):
            continue
        got, depth, ctype = read_png(out)
        check(ctype == 6 and depth == 8, f"disc {kind}: RGBA 8-bit kept")
        a = got[:, :, 3]
        seen = got[a > 0][:, :3].astype(np.int64)
        dev = np.abs(seen - [255, 40, 0]).max()
        check(dev <= 1 and (a == 0).any() and ((a > 0) & (a < 255)).any(),
              f"disc {kind} {' '.join(extra)}: every pixel with alpha > 0 (including the partly "
              f"transparent edge) is the disc's colour within 1 LSB (max deviation {dev})")
    # The same edge without premultiplication would have a fringe: the check has power.
    straight = interpolate(rgba / 255.0, 2, "bicubic")
    alpha = to_u8(straight[:, :, 3])
    fringe = np.abs(to_u8(straight[:, :, :3])[alpha > 0] - [255, 40, 0]).max()
    check(fringe > 30, f"(control) straight-alpha interpolation would shift the edge colour by {fringe}")
    # alpha itself is the interpolated alpha, clamped
    out = path("disc-bicubic.png")
    if os.path.exists(out):
        d = np.abs(read_png(out)[0][:, :, 3].astype(np.int64) - alpha).max()
        check(d <= 1, f"disc alpha equals the interpolated alpha clamped to [0, 1] within 1 LSB (max {d})")

    la = np.zeros((10, 12, 2), np.uint8)
    la[:, :, 0] = 30
    la[3:7, 4:9] = [220, 255]
    inp, out = path("la.png"), path("la-out.png")
    write_png(inp, la)
    if upscale_ok(["-i", inp, "-o", out, "--kernel", "bicubic"], out, "grey+alpha"):
        got, depth, ctype = read_png(out)
        check(ctype == 4 and depth == 8, f"grey+alpha stays grey+alpha (colour type {ctype})")
        check(np.abs(got[got[:, :, 1] > 0][:, 0].astype(int) - 220).max() <= 1,
              "grey+alpha: no fringe either")


# ---------------------------------------------------------------------------------------------
# 4. Precision, channels and file formats.

def part_precision():
    ramp = np.linspace(0, 65535, 300).round().astype(np.uint16)
    g16 = np.tile(ramp, (3, 1))
    inp, out = path("g16.png"), path("g16-out.png")
    write_png(inp, g16)
    if upscale_ok(["-i", inp, "-o", out, "--kernel", "bilinear"], out, "16-bit grey ramp"):
        got, depth, ctype = read_png(out)
        levels = len(np.unique(got))
        check(depth == 16 and ctype == 0 and got.shape == (6, 600, 1),
              f"16-bit grey in, 16-bit grey out (depth {depth}, colour type {ctype})")
        check(levels > 256, f"16-bit output has {levels} distinct levels (> 256)")
        want = np.clip(np.floor(interpolate(g16[:, :, None] / 65535.0, 2, "bilinear") * 65535 + 0.5), 0, 65535)
        d = np.abs(got.astype(np.int64) - want).max()
        check(d <= 2, f"16-bit grey equals the direct computation within 2 of 65535 (max {d})")

    rgb16 = np.stack([np.tile(ramp, (4, 1)), np.tile(ramp[::-1], (4, 1)),
                      np.full((4, 300), 40000, np.uint16), np.full((4, 300), 65535, np.uint16)], axis=2)
    for c in (3, 4):
        inp, out = path(f"rgb16-{c}.png"), path(f"rgb16-{c}-out.png")
        write_png(inp, rgb16[:, :, :c])
        if upscale_ok(["-i", inp, "-o", out, "--kernel", "bicubic"], out, f"16-bit colour ramp, {c} channels"):
            got, depth, ctype = read_png(out)
            check(depth == 16 and ctype == COLOR_TYPE[c],
                  f"16-bit {c}-channel in, same out (depth {depth}, colour type {ctype})")
            check(len(np.unique(got[:, :, 0])) > 256 and (got[:, :, 2] == 40000).all(),
                  f"16-bit {c}-channel: > 256 levels in red, constant blue exactly 40000")

    g8 = (rng_image(8, 9, 11, 1) * 255).astype(np.uint8)
    inp, out = path("g8.png"), path("g8-out.png")
    write_png(inp, g8)
    if upscale_ok(["-i", inp, "-o", out], out, "8-bit grey"):
        got, depth, ctype = read_png(out)
        check(depth == 8 and ctype == 0, f"8-bit grey stays 8-bit grey (depth {depth}, colour type {ctype})")

    # a PNG whose name says JPEG is read as the PNG it is
    src = (rng_image(9, 8, 10, 3) * 255).astype(np.uint8)
    inp, out = path("really-png.jpg"), path("really-png-out.png")
    write_png(inp, src)
    if upscale_ok(["-i", inp, "-o", out], out, "PNG named .jpg"):
        check(read_png(out)[0].shape == (16, 20, 3), "the input is recognised by content, not name")

    if Image is None:
        check(True, "# SKIP JPEG/TIFF: no PIL")
        return
    src = (rng_image(10, 24, 32, 3, smooth=True) * 255).astype(np.uint8)
    jpg, tif = path("photo.jpg"), path("photo.tif")
    Image.fromarray(src).save(jpg, quality=95)
    Image.fromarray(src).save(tif)
    for inp, out in [(jpg, path("photo-from-jpg.png")), (tif, path("photo-out.tif")),
                     (tif, path("photo-out.jpg"))]:
        if upscale_ok(["-i", inp, "-o", out, "--kernel", "bicubic"], out,
                      f"{os.path.basename(inp)} -> {os.path.basename(out)}"):
            im = Image.open(out)
            check(im.size == (64, 48) and im.mode == "RGB",
                  f"{os.path.basename(out)}: 64x48 RGB (got {im.size} {im.mode})")
    # float stays float, out-of-range values included (clamping is only for integer formats)
    f = np.linspace(-0.2, 1.3, 30 * 40, dtype=np.float32).reshape(30, 40)
    ftif, fout = path("float.tif"), path("float-out.tif")
    Image.fromarray(f, "F").save(ftif)
    if upscale_ok(["-i", ftif, "-o", fout, "--kernel", "bilinear"], fout, "float TIFF"):
        got = np.asarray(Image.open(fout))
        want = interpolate(f[:, :, None].astype(float), 2, "bilinear")[:, :, 0]
        check(got.dtype == np.float32 and got.shape == (60, 80)
              and np.abs(got - want).max() < 1e-5 and got.min() < -0.1 and got.max() > 1.2,
              f"float TIFF in, float TIFF out, values beyond [0, 1] kept (max error "
              f"{np.abs(got.astype(float) - want).max() if got.shape == want.shape else 'n/a'})")
    tif_in = np.asarray(Image.fromarray(src)).astype(float) / 255
    got = np.asarray(Image.open(path("photo-out.tif"))).astype(np.int64)
    d = np.abs(got - to_u8(interpolate(tif_in, 2, "bicubic"))).max()
    check(d <= 1, f"TIFF in, TIFF out: equals the direct bicubic within 1 LSB (max {d})")


# ---------------------------------------------------------------------------------------------
# 5. Threads.

def part_threads():
    src = (rng_image(11, 150, 170, 4) * 255).astype(np.uint8)
    inp = path("threads.png")
    write_png(inp, src)
    for label, extra in [("bicubic x2", ["--kernel", "bicubic"]),
                         ("lanczos3 --size 301x233", ["--kernel", "lanczos3", "--size", "301x233"])]:
        digests, pixels = {}, {}
        for t in ["1", "2", "7"]:
            out = path(f"threads-{t}.png")
            r = run("-i", inp, "-o", out, "--threads", t, *extra)
            if r.returncode == 0:
                digests[t] = sha(out)
                pixels[t] = read_png(out)[0]
            else:
                diag(f"--threads {t}: exit {r.returncode}: {r.stderr.strip()[-400:]}")
        out = path("threads-budget.png")
        r = run("-i", inp, "-o", out, "--threads", "2", "--memory-budget", "4M", *extra)
        if r.returncode == 0:
            digests["budget"] = sha(out)
        else:
            diag(f"--memory-budget 4M: exit {r.returncode}: {r.stderr.strip()[-400:]}")
        check(len(digests) == 4 and len(set(digests.values())) == 1,
              f"{label}: 1, 2 and 7 threads and a 4 MiB budget give identical bytes")
        if len(pixels) == 3:
            check(all((pixels[t] == pixels["1"]).all() for t in pixels), f"{label}: identical pixels")


# ---------------------------------------------------------------------------------------------
# 6. Exact sizes and alignment.

def part_size():
    src = (rng_image(12, 29, 37, 3) * 255).astype(np.uint8)
    inp = path("size.png")
    write_png(inp, src)
    for args, want in [(["--size", "100x50"], (50, 100)), (["--scale", "1.5"], (44, 56)),
                       (["--scale", "0.5"], (15, 19)), (["--size", "7x300"], (300, 7)),
                       (["--scale", "2.5", "--kernel", "lanczos3"], (73, 93))]:  # 72.5, 92.5 round up
        out = path("size-out.png")
        if os.path.exists(out):
            os.unlink(out)
        if upscale_ok(["-i", inp, "-o", out, *args], out, " ".join(args)):
            got = read_png(out)[0]
            check(got.shape[:2] == want, f"{' '.join(args)} gives exactly {want[1]}x{want[0]} (got {got.shape[1]}x{got.shape[0]})")

    # Constant stays constant through the reduction (RGBA with alpha 0.6: premultiplied path).
    const = np.zeros((13, 17, 4), np.uint8) + np.array([90, 200, 10, 153], np.uint8)
    inp, out = path("const-a.png"), path("const-a-out.png")
    write_png(inp, const)
    if upscale_ok(["-i", inp, "-o", out, "--scale", "2.7", "--kernel", "lanczos3"], out, "constant RGBA --scale 2.7"):
        got = read_png(out)[0]
        check((got == const[0, 0]).all(), "a constant RGBA image stays constant through the exact-size step")

    # Alignment: a steep linear ramp is reproduced by bilinear and by the normalised cubic
    # reduction, so the interior must sit exactly on the ramp at (x + 0.5) * in / out - 0.5.
    w_in, w_out = 20, 47
    ramp = 12.0 + 11.0 * np.arange(w_in)
    inp, out = path("ramp.png"), path("ramp-out.png")
    write_png(inp, np.tile(ramp, (5, 1)).round().astype(np.uint8))
    if upscale_ok(["-i", inp, "-o", out, "--kernel", "bilinear", "--size", f"{w_out}x5"], out, "ramp --size"):
        got = read_png(out)[0][2, :, 0].astype(float)
        u = (np.arange(w_out) + 0.5) * w_in / w_out - 0.5
        want = 12.0 + 11.0 * u
        d = np.abs(got - want)[6:-6].max()
        check(d <= 1.0, f"--size {w_out}: interior on the ramp at (x + 0.5) * {w_in}/{w_out} - 0.5 within 1 LSB "
              f"(max {d:.2f}; half a pixel off would be {11.0 * 0.5:.1f})")


# ---------------------------------------------------------------------------------------------
# 7. Errors.

def listing(d):
    return sorted(os.listdir(d))


def part_errors():
    d = path("errors")
    os.mkdir(d)
    good = os.path.join(d, "in.png")
    write_png(good, (rng_image(13, 10, 12, 3) * 255).astype(np.uint8))
    rgba16 = os.path.join(d, "in16.png")
    write_png(rgba16, np.full((4, 4, 4), 1000, np.uint16))
    trunc = os.path.join(d, "trunc.png")
    with open(good, "rb") as f:
        data = f.read()
    with open(trunc, "wb") as f:
        f.write(data[:len(data) // 2])
    text = os.path.join(d, "text.png")
    with open(text, "w") as f:
        f.write("this is not an image\n" * 20)
    empty = os.path.join(d, "empty.png")
    open(empty, "wb").close()
    badjpg = os.path.join(d, "bad.jpg")
    with open(badjpg, "wb") as f:
        f.write(b"\xff\xd8\xff\xe0" + b"\x00garbage" * 50)
    badkernel = os.path.join(d, "bad.tconv")
    with open(badkernel, "w") as f:
        f.write("this is not a kernel\n")
    folder = os.path.join(d, "folder.png")
    os.mkdir(folder)
    link = os.path.join(d, "link.png")
    os.symlink(good, link)
    out = os.path.join(d, "out.png")
    inputs = [good, rgba16, trunc, text, empty, badjpg, badkernel, link]
    before = {p: sha(p) for p in inputs}

    cases = [
        ("missing input", ["-i", os.path.join(d, "nope.png"), "-o", out]),
        ("input is a folder", ["-i", folder, "-o", out]),
        ("truncated PNG", ["-i", trunc, "-o", out]),
        ("not an image", ["-i", text, "-o", out]),
        ("empty file", ["-i", empty, "-o", out]),
        ("corrupt JPEG", ["-i", badjpg, "-o", out]),
        ("unknown kernel", ["-i", good, "-o", out, "--kernel", "bicubicc"]),
        ("missing kernel file", ["-i", good, "-o", out, "--kernel", os.path.join(d, "no.tconv")]),
        ("malformed kernel file", ["-i", good, "-o", out, "--kernel", badkernel]),
        ("--stride 0", ["-i", good, "-o", out, "--stride", "0"]),
        ("--stride 17", ["-i", good, "-o", out, "--stride", "17"]),
        ("--stride x", ["-i", good, "-o", out, "--stride", "x"]),
        ("--stride 2,0", ["-i", good, "-o", out, "--stride", "2,0"]),
        ("--size 0x10", ["-i", good, "-o", out, "--size", "0x10"]),
        ("--size 10", ["-i", good, "-o", out, "--size", "10"]),
        ("--size 10x", ["-i", good, "-o", out, "--size", "10x"]),
        ("--size -5x5", ["-i", good, "-o", out, "--size", "-5x5"]),
        ("--scale 0", ["-i", good, "-o", out, "--scale", "0"]),
        ("--scale -1", ["-i", good, "-o", out, "--scale", "-1"]),
        ("--scale abc", ["-i", good, "-o", out, "--scale", "abc"]),
        ("--scale nan", ["-i", good, "-o", out, "--scale", "nan"]),
        ("--scale 0.01 (empty output)", ["-i", good, "-o", out, "--scale", "0.01"]),
        ("--size with --scale", ["-i", good, "-o", out, "--size", "20x20", "--scale", "2"]),
        ("--border foo", ["-i", good, "-o", out, "--border", "foo"]),
        ("--threads 0", ["-i", good, "-o", out, "--threads", "0"]),
        ("--threads 65", ["-i", good, "-o", out, "--threads", "65"]),
        ("--threads x", ["-i", good, "-o", out, "--threads", "x"]),
        ("--memory-budget 0", ["-i", good, "-o", out, "--memory-budget", "0"]),
        ("--memory-budget 5Q", ["-i", good, "-o", out, "--memory-budget", "5Q"]),
        ("output beyond 524288 per side (--size)", ["-i", good, "-o", out, "--size", "524289x10"]),
        ("output beyond 524288 per side (--scale)", ["-i", good, "-o", out, "--scale", "60000"]),
        ("output beyond the memory budget", ["-i", good, "-o", out, "--size", "3000x3000",
                                             "--memory-budget", "1M"]),
        ("output beyond RAM + swap disk", ["-i", rgba16, "-o", out, "--size", "520000x520000"]),
        ("output = input", ["-i", good, "-o", good]),
        ("output = input through a symlink", ["-i", good, "-o", link]),
        ("output folder missing", ["-i", good, "-o", os.path.join(d, "nodir", "out.png")]),
        ("output is a folder", ["-i", good, "-o", folder]),
        ("no saver for the extension", ["-i", good, "-o", os.path.join(d, "out.xyz")]),
        ("no -o", ["-i", good]),
        ("unknown option", ["-i", good, "-o", out, "--frobnicate"]),
        ("stray argument", ["-i", good, "-o", out, "extra"]),
    ]
    expected = listing(d)
    for desc, args in cases:
        r = run(*args)
        names = listing(d)
        msg = r.stderr.strip()
        check(r.returncode in (1, 2) and "tconv upscale:" in msg,
              f"error: {desc}: exit 1 or 2 with a message (exit {r.returncode}: {msg.splitlines()[-1] if msg else ''})")
        check(names == expected, f"error: {desc}: no output and no temporary file left "
              f"(new: {sorted(set(names) - set(expected))})")
        check(all(sha(p) == before[p] for p in inputs), f"error: {desc}: inputs unchanged")
        for n in set(names) - set(expected):
            p = os.path.join(d, n)
            if os.path.isfile(p):
                os.unlink(p)


def part_sample():
    sample = os.path.join(ROOT, "tests", "data", "sample")
    pngs = [f for f in os.listdir(sample) if f.endswith(".png")] if os.path.isdir(sample) else []
    check(len(pngs) >= 1, f"the README's sample image is in tests/data/sample ({pngs})")
    for f in pngs:
        p = os.path.join(sample, f)
        check(os.path.getsize(p) <= 200 * 1024, f"{f} is at most 200 KB ({os.path.getsize(p)} bytes)")
        out = path("sample-out.png")
        if upscale_ok(["-i", p, "-o", out], out, f"the README job on {f}"):
            src, got = read_png(p)[0], read_png(out)[0]
            check(got.shape[0] == 2 * src.shape[0] and got.shape[1] == 2 * src.shape[1],
                  "the README job doubles the sample's size")


def part_babl():
    """babl's shared conversion cache ($XDG_CACHE_HOME/babl/babl-fishes, else
    $HOME/.cache/babl/babl-fishes) is neither read nor written: loading one that lists 8-bit
    conversions made babl time 400 MB of lookup tables on every start; and --linear on 8-bit
    RGBA builds no 256 MiB babl table. BABL_LUT_INFO=1 makes babl say when it does either. No
    temporary folder is left behind."""
    rgba = path("babl-rgba.png")
    write_png(rgba, to_u8(rng_image(31, 40, 50, 4)))
    base = {k: v for k, v in ENV.items() if k != "XDG_CACHE_HOME"}
    for where in ["HOME", "XDG_CACHE_HOME"]:
        home, tmp = path(f"babl-home-{where}"), path(f"babl-tmp-{where}")
        env = dict(base, HOME=home, TMPDIR=tmp, BABL_LUT_INFO="1")
        if where == "HOME":
            cache = os.path.join(home, ".cache", "babl", "babl-fishes")
        else:
            env["XDG_CACHE_HOME"] = path("babl-xdg")
            cache = os.path.join(env["XDG_CACHE_HOME"], "babl", "babl-fishes")
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        os.makedirs(home, exist_ok=True)
        os.makedirs(tmp, exist_ok=True)
        # two entries of a cache written by Debian 12's babl 0.1.98 (another babl version drops
        # the file as stale): loading them made gegl_init() time the tables
        shutil.copy(os.path.join(ROOT, "tests", "data", "babl-fishes"), cache)
        before = sha(cache)
        for args, what in [([], "RGBA"), (["--linear"], "RGBA --linear")]:
            what = f"{what}, babl cache under {where}"
            out = path("babl-out.png")
            r = subprocess.run([TCONV, "upscale", "-i", rgba, "-o", out, *args],
                               capture_output=True, text=True, timeout=120, env=env)
            check(r.returncode == 0 and os.path.exists(out), f"{what}: runs"
                  + (f" ({r.stderr.strip()[-200:]})" if r.returncode else ""))
            lut = [l for l in r.stderr.splitlines() if "lut timings" in l or "generating LUT" in l]
            check(not lut, f"{what}: babl neither times nor builds lookup tables {lut[:2]}")
            check(sha(cache) == before and not os.path.exists(cache + "~"),
                  f"{what}: the user's babl cache is left as it was")
            check(os.listdir(tmp) == [], f"{what}: no temporary folder left in TMPDIR "
                  f"{os.listdir(tmp)}")


def png_chunks(p):
    """[(type, data, crc ok)] of a PNG file, read independently of any decoder."""
    with open(p, "rb") as f:
        b = f.read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, out = 8, []
    while pos < len(b):
        n, t = struct.unpack(">I4s", b[pos:pos + 8])
        d = b[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])
        out.append((t.decode("latin-1"), d, crc == zlib.crc32(t + d)))
        pos += 12 + n
    return out


def part_png_writer():
    # Large enough for several deflate segments (2 MiB of rows each) and IDAT chunks (1 MiB):
    # noise does not compress. Pixels are compared with the same run written by GEGL's PPM
    # saver; the file is checked chunk by chunk (CRCs, order, one zlib stream whose Adler-32
    # Python's zlib verifies).
    rng = np.random.default_rng(7)
    src = rng.integers(0, 256, (700, 1100, 3), dtype=np.uint8)
    inp, out, ppm = path("noise.png"), path("noise-out.png"), path("noise-out.ppm")
    write_png(inp, src)
    if upscale_ok(["-i", inp, "-o", out, "--kernel", "bicubic"], out, "noise x2 to PNG") \
            and upscale_ok(["-i", inp, "-o", ppm, "--kernel", "bicubic"], ppm, "noise x2 to PPM"):
        chunks = png_chunks(out)
        types = [t for t, _, _ in chunks]
        check(all(ok for _, _, ok in chunks), "every chunk's CRC is right")
        check(types[:5] == ["IHDR", "gAMA", "sRGB", "cHRM", "bKGD"] and types[-1] == "IEND"
              and set(types[5:-1]) == {"IDAT"} and len(types[5:-1]) > 3,
              f"chunks as gegl:png-save writes them, several IDAT: {types[:6]} .. {len(types)}")
        raw = zlib.decompress(b"".join(d for t, d, _ in chunks if t == "IDAT"))
        check(len(raw) == 1400 * (2200 * 3 + 1), f"one zlib stream of 1400 filtered rows ({len(raw)} bytes)")
        got = np.asarray(Image.open(out))
        want = np.asarray(Image.open(ppm))
        check(got.shape == (1400, 2200, 3) and np.array_equal(got, want),
              "the PNG holds the pixels GEGL's PPM saver writes for the same run")
        out1 = path("noise-out-1t.png")
        if upscale_ok(["-i", inp, "-o", out1, "--kernel", "bicubic", "--threads", "1"], out1, "1 thread"):
            check(open(out1, "rb").read() == open(out, "rb").read(), "the same bytes on 1 thread as on all")

    # grey and grey + alpha: no colour chunks, a grey background
    for c, ctype in ((1, 0), (2, 4)):
        a = rng.integers(0, 256, (20, 30, c), dtype=np.uint8)
        if c == 2:
            a[:, :, 1] = 255  # opaque: with alpha < 1 the pipeline rounds through premultiplied values
        inp, out = path(f"grey{c}.png"), path(f"grey{c}-out.png")
        write_png(inp, a)
        if upscale_ok(["-i", inp, "-o", out, "--kernel", "nearest"], out, f"grey, {c} channel(s)"):
            chunks = png_chunks(out)
            types = [t for t, _, _ in chunks]
            got, depth, ct = read_png(out)
            check(types[:2] == ["IHDR", "bKGD"] and ct == ctype and depth == 8
                  and np.array_equal(got, np.repeat(np.repeat(a, 2, 0), 2, 1)),
                  f"grey ({c} channel(s)): colour type {ct}, chunks {types[:3]}, nearest x2 exact")

    # a colour space other than sRGB: its profile travels on as iCCP (with gAMA and cHRM)
    adobe = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
    icc = matrix_icc(adobe)
    a = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    inp, out = path("adobe.png"), path("adobe-out.png")
    raw = a.reshape(16, -1)
    data = b"".join(b"\0" + raw[y].tobytes() for y in range(16))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(inp, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 24, 16, 8, 2, 0, 0, 0))
                + chunk(b"iCCP", b"test\0\0" + zlib.compress(icc)) + chunk(b"IDAT", zlib.compress(data))
                + chunk(b"IEND", b""))
    if upscale_ok(["-i", inp, "-o", out, "--kernel", "nearest"], out, "Adobe-RGB-like input"):
        chunks = png_chunks(out)
        types = [t for t, _, _ in chunks]
        prof = [d for t, d, _ in chunks if t == "iCCP"]
        ok = len(prof) == 1 and prof[0].index(b"\0") <= 79
        if ok:
            body = zlib.decompress(prof[0][prof[0].index(b"\0") + 2:])
            tags = {body[132 + 12 * i:136 + 12 * i]: struct.unpack(">II", body[136 + 12 * i:144 + 12 * i])
                    for i in range(struct.unpack(">I", body[128:132])[0])}
            o, _ = tags.get(b"rXYZ", (0, 0))
            rx = struct.unpack(">i", body[o + 8:o + 12])[0] / 65536 if o else 0
        check(ok and types[:4] == ["IHDR", "gAMA", "iCCP", "cHRM"] and abs(rx - 0.6097) < 2e-3
              and np.array_equal(read_png(out)[0], np.repeat(np.repeat(a, 2, 0), 2, 1)),
              f"non-sRGB input: chunks {types[:5]}, profile red X {rx if ok else None}, pixels as they were")


def part_png_reader():
    # The common PNGs are decoded by libpng on a thread of tconv's own (cli/tconv-png-read.c);
    # TCONV_PROFILE=1 names the way taken. Every kind must give the pixels PIL (or the
    # decoder above) reads, doubled by nearest x2; the others take GEGL's loader.
    rng = np.random.default_rng(12)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    def png(p, a, depth, ctype, extra=b""):
        h, w = a.shape[:2]
        raw = a.astype(">u2" if depth == 16 else "u1").reshape(h, -1).view(np.uint8)
        data = b"".join(b"\0" + raw[y].tobytes() for y in range(h))
        with open(p, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
                    + extra + chunk(b"IDAT", zlib.compress(data, 6)) + chunk(b"IEND", b""))

    srgb = chunk(b"sRGB", b"\0") + chunk(b"gAMA", struct.pack(">I", 45455))
    icc = chunk(b"iCCP", b"test\0\0" + zlib.compress(matrix_icc(
        ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446)))))
    u8 = lambda c: rng.integers(0, 256, (13, 17, c), dtype=np.uint8)  # noqa: E731
    opaque = lambda a: np.concatenate([a[:, :, :-1], np.full(a.shape[:2] + (1,), 255, np.uint8)], 2)  # noqa: E731
    cases = [
        ("rgb8", u8(3), 8, 2, b"", True),
        ("rgba8", opaque(u8(4)), 8, 6, b"", True),
        ("grey8", u8(1), 8, 0, b"", True),
        ("greya8", opaque(u8(2)), 8, 4, b"", True),
        ("rgb16", rng.integers(0, 65536, (13, 17, 3), dtype=np.uint16), 16, 2, b"", True),
        ("grey16", rng.integers(0, 65536, (13, 17, 1), dtype=np.uint16), 16, 0, b"", True),
        ("rgb8-srgb", u8(3), 8, 2, srgb, True),
        ("rgb8-icc", u8(3), 8, 2, icc, True),
        # left to GEGL's loader
        ("rgb8-gama-only", u8(3), 8, 2, chunk(b"gAMA", struct.pack(">I", 45455)), False),
        ("grey8-trns", u8(1), 8, 0, chunk(b"tRNS", struct.pack(">H", 7)), False),
    ]
    for name, a, depth, ctype, extra, fast in cases:
        inp, out = path(f"read-{name}.png"), path(f"read-{name}-out.png")
        png(inp, a, depth, ctype, extra)
        # the whole-image path (a streamed PNG is read by the same decoder, and equals the
        # whole-image file: test-stream.py)
        r = subprocess.run([TCONV, "upscale", "-i", inp, "-o", out, "--kernel", "nearest"],
                           capture_output=True, text=True,
                           env={**ENV, "TCONV_PROFILE": "1", "TCONV_NO_STREAM": "1"})
        used = "read input (libpng)" in r.stderr
        if r.returncode != 0 or not os.path.exists(out):
            check(False, f"{name}: tconv upscale failed: {r.stderr.strip()[-200:]}")
            continue
        got = read_png(out)[0]
        want = np.repeat(np.repeat(a, 2, 0), 2, 1)
        if ctype == 0 and extra.startswith(struct.pack(">I", 2) + b"tRNS"):
            got = got[:, :, :1]  # GEGL adds the alpha that tRNS implies
        check(used == fast and np.array_equal(got.reshape(want.shape), want),
              f"{name}: {'libpng on its own thread' if fast else 'GEGL loader'} "
              f"({'as expected' if used == fast else 'NOT as expected'}), nearest x2 exact")
    # a truncated file fails with the loader's message, as before
    inp = path("read-rgb8.png")
    cut = path("read-cut.png")
    data = open(inp, "rb").read()
    open(cut, "wb").write(data[:len(data) - 40])
    r = run("-i", cut, "-o", path("read-cut-out.png"), "--kernel", "nearest")
    check(r.returncode == 1 and "read-cut.png" in r.stderr and not os.path.exists(path("read-cut-out.png")),
          f"truncated PNG: error, no output: {r.stderr.strip()[-160:]}")


def main():
    for part in [part_interpolation, part_borders, part_alpha, part_precision, part_threads,
                 part_size, part_errors, part_sample, part_babl, part_png_writer,
                 part_png_reader]:
        diag(part.__name__)
        try:
            part()
        except Exception as e:  # a crash in one part is one failure, not a lost run
            import traceback
            check(False, f"{part.__name__} raised {e!r}")
            diag(traceback.format_exc())
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    diag(f"CPU seconds: this script {me.ru_utime + me.ru_stime:.1f}, "
         f"tconv runs {kids.ru_utime + kids.ru_stime:.1f}")
    print(f"1..{n_tests}")
    import shutil
    if failed == 0:
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        diag(f"{failed} failed; files kept in {WORK}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
