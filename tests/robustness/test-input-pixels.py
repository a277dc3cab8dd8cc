#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Valid files whose pixels tconv read wrong (issue 16, item 6), each against a reference
computed without tconv:
  - CMYK JPEG and TIFF: Pillow's conversion (R = 255 (1 - C)(1 - K), Adobe's inverted JPEG
    convention), and, with an embedded CMYK ICC profile, Pillow's ImageCms (lcms2) with the
    profile's rendering intent;
  - MinIsWhite TIFF: 255 - v; signed 16-bit TIFF: v + 32768 (-32768..32767 onto 0..65535);
  - Radiance HDR with run-length scanlines (written here), "-Y 010 +X 010", and all eight
    orientations of the resolution line: the floats r 2^(e - 136) placed as numpy flips them;
  - EXIF orientation 1-8 of a JPEG and the Orientation tag of a TIFF: Pillow's
    ImageOps.exif_transpose(); a JPEG output carries no orientation;
  - an animated GIF and a multi-page TIFF: the first image, with a warning; an animated WebP
    refused by name.
Every image goes through `tconv upscale -k nearest --stride 1`, the identity (checked first).
Prints TAP.
"""
import io
import os
import shlex
import struct
import subprocess
import sys
import tempfile

TCONV = os.environ.get("TCONV")
if not TCONV:
    print("Bail out! test-input-pixels.py: set TCONV to the tconv binary")
    sys.exit(1)
WRAP = shlex.split(os.environ.get("TCONV_WRAPPER", ""))
try:
    import numpy as np
    from PIL import Image, ImageCms, ImageOps
except ImportError as e:  # .ci/deps installs python3-numpy and python3-pil
    print(f"1..0 # SKIP numpy or Pillow missing ({e})")
    sys.exit(0)

W = tempfile.mkdtemp(prefix="tconv-input-pixels-")
n_tests = n_failed = 0
# A CMYK profile to embed (Debian: libgs-common, installed by .ci/deps).
CMYK_ICC = "/usr/share/color/icc/ghostscript/ps_cmyk.icc"


def check(cond, desc):
    global n_tests, n_failed
    n_tests += 1
    n_failed += 0 if cond else 1
    print(("ok" if cond else "not ok") + f" {n_tests} - " + " | ".join(str(desc).splitlines()),
          flush=True)


def path(name):
    return os.path.join(W, name)


def identity(src, out_ext=".png"):
    """tconv's reading of @src, through the identity: an array, or the error text."""
    out = path("out-" + os.path.basename(src) + out_ext)
    r = subprocess.run(WRAP + [TCONV, "upscale", "-i", src, "-o", out, "-k", "nearest",
                               "--stride", "1"], capture_output=True, text=True,
                       env=dict(os.environ, LC_ALL="C"))
    if r.returncode != 0:
        return None, r.stderr.strip()[-200:]
    return out, ""


def png_pixels(p):
    return np.asarray(Image.open(p)).astype(np.int64)


def compare(desc, src, ref, tol, out_ext=".png", reader=png_pixels, rel=False):
    out, err = identity(src, out_ext)
    if out is None:
        check(False, f"{desc}: tconv refused it: {err}")
        return None
    got = reader(out)
    if got.shape != ref.shape:
        check(False, f"{desc}: shape {got.shape}, expected {ref.shape}")
        return out
    d = np.abs(got.astype(np.float64) - ref)
    if rel:
        d = d / np.maximum(np.abs(ref), 1e-3)
    where = np.unravel_index(int(np.argmax(d)), d.shape)
    check(d.max() <= tol, f"{desc}: largest difference {d.max():g} (<= {tol:g}; mean "
          f"{d.mean():.3g}) at {tuple(int(i) for i in where)}")
    return out


def smooth_rgb(h, w, seed):
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    base = np.stack([x / (w - 1), y / (h - 1), (x + y) / (w + h - 2)], -1) * 255
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


# ---- tiny TIFF writer (one strip, little-endian) --------------------------------------------

def tiff(data, w, h, spp, bps, photometric, sample_format=1, extra=None):
    tags = {256: (4, w), 257: (4, h), 258: (3, bps), 259: (3, 1), 262: (3, photometric),
            273: (4, 0), 277: (3, spp), 278: (4, h), 279: (4, len(data)), 339: (3, sample_format)}
    tags.update(extra or {})
    ifd_len = 2 + 12 * len(tags) + 4
    tags[273] = (4, 8 + ifd_len)
    out = b"II*\0" + struct.pack("<IH", 8, len(tags))
    for tag in sorted(tags):
        typ, val = tags[tag]
        out += struct.pack("<HHI", tag, typ, 1) + (struct.pack("<HH", val, 0) if typ == 3
                                                    else struct.pack("<I", val))
    return out + struct.pack("<I", 0) + data


def srgb(v):
    """The sRGB transfer function (IEC 61966-2-1): GEGL's TIFF saver stores float RGB
    sRGB-encoded ("R'G'B' float", with an sRGB profile)."""
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(np.maximum(v, 0), 1 / 2.4) - 0.055)


def read_float_tiff(p):
    """(h, w, c) float32 of tconv's float TIFF output (little-endian, strips)."""
    b = open(p, "rb").read()
    assert b[:4] == b"II*\0"
    off = struct.unpack_from("<I", b, 4)[0]
    tags = {}
    for i in range(struct.unpack_from("<H", b, off)[0]):
        tag, typ, count = struct.unpack_from("<HHI", b, off + 2 + 12 * i)
        size = {3: 2, 4: 4}.get(typ, 1)
        at = off + 2 + 12 * i + 8
        if size * count > 4:
            at = struct.unpack_from("<I", b, at)[0]
        tags[tag] = list(struct.unpack_from("<%d%s" % (count, {3: "H", 4: "I"}.get(typ, "B")),
                                            b, at))
    w, h, spp = tags[256][0], tags[257][0], tags.get(277, [1])[0]
    assert tags.get(339, [1])[0] == 3 and tags[258][0] == 32 and tags.get(259, [1])[0] == 1
    data = b"".join(b[o:o + c] for o, c in zip(tags[273], tags[279]))
    return np.frombuffer(data[:w * h * spp * 4], "<f4").reshape(h, w, spp).astype(np.float64)


# ---- the cases ----------------------------------------------------------------------------

def identity_check():
    a = smooth_rgb(20, 30, 1)
    p = path("id.png")
    Image.fromarray(a).save(p)
    compare("identity: a PNG through -k nearest --stride 1", p, a, 0)


def cmyk():
    rgb = Image.fromarray(smooth_rgb(48, 64, 2))
    c = rgb.convert("CMYK")
    for ext in (".jpg", ".tif"):
        p = path("cmyk" + ext)
        c.save(p, quality=95) if ext == ".jpg" else c.save(p)
        ref = np.asarray(Image.open(p).convert("RGB")).astype(np.int64)
        compare(f"CMYK {ext[1:].upper()} without a profile against Pillow's conversion", p, ref,
                1)
    if not os.path.exists(CMYK_ICC):
        check(True, f"# SKIP {CMYK_ICC} missing (Debian: libgs-common)")
        return
    icc = open(CMYK_ICC, "rb").read()
    prof = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    intent = ImageCms.getDefaultIntent(prof)
    for ext in (".jpg", ".tif"):
        p = path("cmyk-icc" + ext)
        c.save(p, quality=95, icc_profile=icc) if ext == ".jpg" else \
            c.save(p, icc_profile=icc)
        decoded = Image.open(p)
        ref = ImageCms.profileToProfile(decoded, prof, ImageCms.createProfile("sRGB"),
                                        renderingIntent=intent, outputMode="RGB")
        compare(f"CMYK {ext[1:].upper()} with a CMYK ICC profile against Pillow's ImageCms",
                p, np.asarray(ref).astype(np.int64), 2)


def min_is_white_signed():
    rng = np.random.default_rng(3)
    v = rng.integers(0, 256, (12, 17), dtype=np.uint8)
    p = path("miniswhite.tif")
    open(p, "wb").write(tiff(v.tobytes(), 17, 12, 1, 8, photometric=0))
    compare("MinIsWhite 8-bit TIFF: 255 - v", p, 255 - v.astype(np.int64), 0)
    s = rng.integers(-32768, 32768, (12, 17)).astype("<i2")
    s[0, :4] = (-32768, -1, 0, 32767)
    p = path("signed16.tif")
    open(p, "wb").write(tiff(s.tobytes(), 17, 12, 1, 16, photometric=1, sample_format=2))
    compare("signed 16-bit TIFF: v + 32768 (-32768 black, 0 mid-grey, 32767 white)", p,
            s.astype(np.int64) + 32768, 0)


def rle_scanline(rgbe):
    """Radiance's run-length scanline of (w, 4) bytes: per component, runs of 4+ equal bytes
    as (128 + n, byte), the rest as (n, bytes)."""
    w = rgbe.shape[0]
    out = bytearray([2, 2, w >> 8, w & 255])
    for c in range(4):
        col = rgbe[:, c].tolist()
        x = 0
        while x < w:
            run = 1
            while x + run < w and run < 127 and col[x + run] == col[x]:
                run += 1
            if run >= 4:
                out += bytes([128 + run, col[x]])
                x += run
                continue
            start = x
            while x < w and x - start < 128:
                if x + 3 < w and col[x] == col[x + 1] == col[x + 2] == col[x + 3]:
                    break
                x += 1
            out += bytes([x - start]) + bytes(col[start:x])
    return bytes(out)


def hdr():
    rng = np.random.default_rng(4)
    h, w = 9, 23
    rgbe = rng.integers(0, 256, (h, w, 4)).astype(np.uint8)
    # values up to 4: GEGL's TIFF saver sRGB-encodes floats with babl, whose curve is an
    # approximation that drifts above about 8 (4.5 % at 764)
    rgbe[:, :, 3] = rng.integers(118, 131, (h, w))
    rgbe[2:5, 3:15] = (200, 100, 50, 130)  # runs
    rgbe[6, 4] = (9, 9, 9, 0)  # exponent 0: black
    val = rgbe[:, :, :3].astype(np.float64) * np.ldexp(1.0, rgbe[:, :, 3:].astype(int) - 136)
    val[rgbe[:, :, 3] == 0] = 0
    val = srgb(val)
    head = b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n"
    # All eight orientations: the first axis is the one scanlines run along (Y: rows, X:
    # columns); -Y is top to bottom, +Y bottom to top, +X left to right, -X right to left.
    # Each case stores the image's scanlines in that order; the expected image is the same.
    T = lambda a: a.transpose(1, 0, 2)
    cases = [
        ("-Y %(h)d +X %(w)d", lambda a: a),
        ("+Y %(h)d +X %(w)d", lambda a: a[::-1]),
        ("-Y %(h)d -X %(w)d", lambda a: a[:, ::-1]),
        ("+Y %(h)d -X %(w)d", lambda a: a[::-1, ::-1]),
        ("+X %(w)d -Y %(h)d", lambda a: T(a)),
        ("+X %(w)d +Y %(h)d", lambda a: T(a[::-1])),
        ("-X %(w)d -Y %(h)d", lambda a: T(a[:, ::-1])),
        ("-X %(w)d +Y %(h)d", lambda a: T(a[::-1, ::-1])),
        ("-Y %(h)03d +X %(w)03d", lambda a: a),
    ]
    for i, (res, store) in enumerate(cases):
        body = b"".join(rle_scanline(np.ascontiguousarray(line)) for line in store(rgbe))
        p = path(f"rle{i}.hdr")
        line = res % {"h": h, "w": w}
        open(p, "wb").write(head + line.encode() + b"\n" + body)
        compare(f"run-length Radiance HDR, resolution line '{line}'", p, val, 2e-5,
                ".tif", read_float_tiff, rel=True)
    # flat scanlines of 10 x 10 with leading zeros in the resolution line
    flat = rng.integers(1, 256, (10, 10, 4)).astype(np.uint8)
    flat[:, :, 3] = rng.integers(118, 131, (10, 10))
    p = path("flat010.hdr")
    open(p, "wb").write(head + b"-Y 010 +X 010\n" + flat.tobytes())
    ref = srgb(flat[:, :, :3].astype(np.float64) * np.ldexp(1.0, flat[:, :, 3:].astype(int) - 136))
    compare("flat Radiance HDR '-Y 010 +X 010' is 10x10", p, ref, 2e-5, ".tif", read_float_tiff,
            rel=True)


def orientation():
    base = Image.fromarray(smooth_rgb(30, 44, 5))
    for k in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = k
        p = path(f"exif{k}.jpg")
        base.save(p, quality=95, exif=exif.tobytes())
        ref = np.asarray(ImageOps.exif_transpose(Image.open(p))).astype(np.int64)
        compare(f"JPEG with EXIF orientation {k} against Pillow's exif_transpose", p, ref, 0)
    out, err = identity(path("exif6.jpg"), ".jpg")
    if out is None:
        check(False, f"JPEG with orientation 6 to JPEG: refused: {err}")
    else:
        o = Image.open(out)
        check(o.getexif().get(0x0112, 1) == 1 and o.size == (30, 44),
              f"JPEG with orientation 6 to JPEG: upright {o.size}, no orientation in the output "
              f"({o.getexif().get(0x0112)})")
    # Pillow 9 does not apply a TIFF's own Orientation tag: numpy does, as TIFF 6.0 defines
    # it (3: rotated 180°, 6: row 0 on the right, 8: row 0 on the left)
    v = np.asarray(base)
    for k, ref in ((3, v[::-1, ::-1]), (6, np.rot90(v, -1)), (8, np.rot90(v, 1))):
        p = path(f"orient{k}.tif")
        open(p, "wb").write(tiff(v.tobytes(), 44, 30, 3, 8, photometric=2,
                                 extra={274: (3, k)}))
        compare(f"TIFF with Orientation {k}", p, ref.astype(np.int64), 0)


def frames():
    """Files of several images: the first is read, with a warning; an animated WebP, which
    GEGL's loader cannot decode, is refused by name."""
    colours = ((200, 30, 30), (30, 200, 30), (30, 30, 200))
    fr = [Image.new("RGB", (20, 16), c) for c in colours]
    ref = np.asarray(fr[0]).astype(np.int64)
    for name, kw, what in (("anim.gif", {"duration": 100, "loop": 0}, "an animation of 3 frames"),
                           ("pages.tif", {}, "more than one page")):
        p = path(name)
        fr[0].save(p, save_all=True, append_images=fr[1:], **kw)
        out = path("out-" + name + ".png")
        r = subprocess.run(WRAP + [TCONV, "upscale", "-i", p, "-o", out, "-k", "nearest",
                                   "--stride", "1"], capture_output=True, text=True,
                           env=dict(os.environ, LC_ALL="C"))
        ok = r.returncode == 0 and os.path.isfile(out)
        got = png_pixels(out)[:, :, :3] if ok else None
        check(ok and "warning" in r.stderr and what in r.stderr and np.array_equal(got, ref),
              f"{name}: the first image is read, with a warning ({r.stderr.strip()[-120:]})")
    p = path("anim.webp")
    fr[0].save(p, save_all=True, append_images=fr[1:], duration=100, lossless=True)
    out = path("out-anim.webp.png")
    r = subprocess.run(WRAP + [TCONV, "upscale", "-i", p, "-o", out], capture_output=True,
                       text=True, env=dict(os.environ, LC_ALL="C"))
    check(r.returncode == 1 and "animated WebP (3 frames)" in r.stderr and not os.path.exists(out),
          f"animated WebP: refused by name ({r.stderr.strip()[-160:]})")


def main():
    for part in (identity_check, cmyk, min_is_white_signed, hdr, orientation, frames):
        try:
            part()
        except Exception as e:
            import traceback
            check(False, f"{part.__name__} raised {e!r}")
            for line in traceback.format_exc().splitlines():
                print("# " + line)
    print(f"1..{n_tests}")
    import shutil
    shutil.rmtree(W, ignore_errors=True)
    return 1 if n_failed else 0


if __name__ == "__main__":
    sys.exit(main())
