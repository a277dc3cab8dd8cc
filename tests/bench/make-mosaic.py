#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes a photo mosaic PNG of any size from tests/data/sample/chelsea-cat.png: tiles of the
photograph, each flipped, shifted and scaled in brightness at random, with a little sensor-like
noise so that deflate cannot match whole tiles (a repeated tile would compress far better than
a photograph). Streams in bands, so a 10000x10000 image needs little memory.

usage: make-mosaic.py OUT.png WIDTH HEIGHT [--depth 8|16] [--channels 1|2|3|4] [--seed N]"""
import argparse
import os
import struct
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CAT = os.path.join(HERE, "..", "data", "sample", "chelsea-cat.png")
COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}


def read_cat():
    """The sample photograph (8-bit RGB, not interlaced) as an h x w x 3 uint8 array."""
    with open(CAT, "rb") as f:
        b = f.read()
    pos, idat, ihdr = 8, [], None
    while pos < len(b):
        n, t = struct.unpack(">I4s", b[pos:pos + 8])
        if t == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", b[pos + 8:pos + 8 + n])
        elif t == b"IDAT":
            idat.append(b[pos + 8:pos + 8 + n])
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert (depth, ctype, interlace) == (8, 2, 0), ihdr
    stride, bpp = w * 3, 3
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(h, stride + 1)
    out = np.zeros((h, stride), np.int32)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        ft, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if ft in (0, 2):
            cur = (line + (prev if ft == 2 else 0)) & 255
        else:  # left, average and Paeth depend on the pixel to the left: per pixel
            cur = np.zeros(stride, np.int32)
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                up, ul = prev[i], (prev[i - bpp] if i >= bpp else 0)
                if ft == 1:
                    pred = left
                elif ft == 3:
                    pred = (left + up) >> 1
                else:
                    pa, pb, pc = abs(up - ul), abs(left - ul), abs(left + up - 2 * ul)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
                cur[i] = (line[i] + pred) & 255
        out[y] = cur
        prev = cur
    return out.reshape(h, w, 3).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("width", type=int)
    ap.add_argument("height", type=int)
    ap.add_argument("--depth", type=int, default=8, choices=(8, 16))
    ap.add_argument("--channels", type=int, default=3, choices=(1, 2, 3, 4))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cat = read_cat()
    th, tw = cat.shape[:2]
    w, h, c = a.width, a.height, a.channels
    top = 65535.0 if a.depth == 16 else 255.0
    nx = (w + tw - 1) // tw
    z = zlib.compressobj(1)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(a.out, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
            ">IIBBBBB", w, h, a.depth, COLOR_TYPE[c], 0, 0, 0)))
        for ty in range(0, h, th):
            rows = min(th, h - ty)
            band = np.empty((rows, nx * tw, 3), np.float32)
            for tx in range(nx):
                t = cat[::-1] if rng.random() < 0.5 else cat
                t = t[:, ::-1] if rng.random() < 0.5 else t
                band[:, tx * tw:(tx + 1) * tw] = t[:rows] * rng.uniform(0.7, 1.2) + rng.uniform(-20, 20)
            band = band[:, :w]
            band += rng.normal(0.0, 1.5, band.shape).astype(np.float32)
            band = np.clip(band / 255.0, 0.0, 1.0)
            if c <= 2:
                band = (0.299 * band[:, :, :1] + 0.587 * band[:, :, 1:2] + 0.114 * band[:, :, 2:3])
            if c in (2, 4):  # a smooth alpha ramp with a fully transparent corner
                yy, xx = np.mgrid[ty:ty + rows, 0:w]
                alpha = np.clip((xx / max(w - 1, 1) + yy / max(h - 1, 1)) - 0.1, 0.0, 1.0)
                band = np.concatenate([band, alpha[:, :, None].astype(np.float32)], axis=2)
            px = np.round(band * top).astype(">u2" if a.depth == 16 else "u1")
            raw = px.reshape(rows, -1).view(np.uint8)
            data = np.concatenate([np.zeros((rows, 1), np.uint8), raw], axis=1)
            f.write(chunk(b"IDAT", z.compress(data.tobytes())))
        f.write(chunk(b"IDAT", z.flush()) + chunk(b"IEND", b""))


if __name__ == "__main__":
    main()
