#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""TAP: kernel banks through `tconv upscale` (the adaptive presets).

The CLI's output is compared with an independent numpy implementation of the bank recipe
(core/tconv-bank.h): the class of each low-resolution pixel is read back from the class map the
CLI writes (--class-map), and every output pixel is the class kernel's phase over the window
of the pixel that owns its block, with the edge repeated (--border clamp). Also: the class
map's size and colours on straight edges, and the errors."""
import colorsys
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

TCONV = os.environ.get("TCONV")
ROOT = os.environ.get("TCONV_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
PRESETS = os.path.join(ROOT, "presets")
if not TCONV:
    sys.exit("test-bank.py: set TCONV to the tconv binary")

n_tests = 0
failed = 0


def check(cond, desc):
    global n_tests, failed
    n_tests += 1
    if not cond:
        failed += 1
    desc = " | ".join(str(desc).splitlines())
    print(("ok" if cond else "not ok") + f" {n_tests} - {desc}", flush=True)


def run(*args):
    env = dict(os.environ, TCONV_PRESET_DIR=PRESETS)
    return subprocess.run([TCONV, *args], capture_output=True, text=True, env=env, timeout=300)


def read_bank(path):
    """Geometry, classifier bins and class kernels of a version 2 .tconv file."""
    lines = [l.rstrip("\n") for l in open(path, encoding="utf-8")]
    assert lines[0] == "tconv-kernel 2"
    f = {}
    i = 1
    while lines[i] != "weights":
        if not lines[i].startswith("#"):
            key, _, val = lines[i].partition(" ")
            f[key] = val
        i += 1
    k = int(f["size"].split()[0])
    i += 1 + k + 1  # the global kernel and its 'end'
    bins = [int(v) for v in lines[i].split()[1:]]
    i += 4
    classes = []
    for c in range(bins[0] * bins[1] * bins[2]):
        assert lines[i].startswith("class %d " % c), lines[i]
        classes.append(np.array([[float(v) for v in lines[i + 1 + y].split()] for y in range(k)]))
        i += 1 + k
    return {"s": int(f["stride"].split()[0]), "k": k, "pad": int(f["padding"].split()[0]),
            "bins": bins, "classes": classes}


def class_colours(bins):
    """The colour --class-map gives each class (docs/cli.md), as the CLI computes it."""
    a_n, s_n, q_n = bins
    table = {}
    for k in range(a_n * s_n * q_n):
        q, s, a = k % q_n, (k // q_n) % s_n, k // (q_n * s_n)
        rgb = colorsys.hsv_to_rgb(a / a_n, (q + 1) / q_n, (s + 1) / s_n)
        table.setdefault(tuple(int(np.floor(c * 255 + 0.5)) for c in rgb), []).append(k)
    return table


def reference(bank, img, classes):
    """The bank on a float image (H, W, C) with the edge repeated, by the gather definition."""
    s, k, pad = bank["s"], bank["k"], bank["pad"]
    h, w, c = img.shape
    m = k // s + 2
    ext = np.pad(img, ((m, m), (m, m), (0, 0)), mode="edge")
    out = np.zeros((h * s, w * s, c))
    for y in range(h * s):
        jy, py = divmod(y, s)
        for x in range(w * s):
            jx, px = divmod(x, s)
            kern = bank["classes"][classes[jy, jx]]
            acc = np.zeros(c)
            for ky in range((py + pad) % s, k, s):
                iy = jy + (py + pad - ky) // s
                for kx in range((px + pad) % s, k, s):
                    ix = jx + (px + pad - kx) // s
                    acc += ext[iy + m, ix + m] * kern[ky, kx]
            out[y, x] = acc
    return out


def bank_picture(tmp):
    """`kernel show --png` of a bank: a tap changed in one class changes only a small patch,
    and the patches move right with the angle bin, down with the coherence bin and further
    down with the strength bin (class index (angle * strengths + strength) * coherences +
    coherence, the file's order)."""
    src = os.path.join(PRESETS, "adaptive-x3.tconv")
    bank = read_bank(src)
    A, S, Q = bank["bins"]
    k = bank["k"]
    text = open(src, encoding="utf-8").read().split("\n")

    def picture(name, j):
        lines = list(text)
        if j is not None:
            at = next(i for i, l in enumerate(lines) if l.startswith("class %d " % j)) + 1
            row = lines[at].split()
            row[0] = repr(float(row[0]) + 0.4)  # taps 0 and 3: the same phase at stride 3
            row[3] = repr(float(row[3]) - 0.4)
            lines[at] = " ".join(row)
        f = os.path.join(tmp, name + ".tconv")
        open(f, "w", encoding="utf-8").write("\n".join(lines))
        png = os.path.join(tmp, name + ".png")
        r = run("kernel", "show", f, "--stride", "3", "--png", png, "--cell", "4")
        if r.returncode != 0:
            return None, r.stderr.strip()
        return np.asarray(Image.open(png).convert("RGB")).astype(int), r.stdout

    base, out = picture("base", None)
    check(base is not None and ("(%d x %d pixels)" % (base.shape[1], base.shape[0])) in out,
          "kernel show --png of a bank: the picture has the size it reports (%s)"
          % (out.strip().splitlines()[-1] if out else out))
    if base is None:
        return
    where = {}
    for a, st, q in [(0, 0, 0), (1, 0, 0), (A - 1, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1)]:
        j = (a * S + st) * Q + q
        img, _ = picture("c%d" % j, j)
        if img is None or img.shape != base.shape:
            check(False, "class %d changed: the picture is drawn with the same size" % j)
            continue
        ys, xs = np.nonzero((img != base).any(axis=2))
        small = len(xs) > 0 and xs.ptp() < k * 4 and ys.ptp() < k * 4
        check(small, "class %d (angle %d, strength %d, coherence %d) changed: only a patch within "
              "one class's kernel changes (%d pixels)" % (j, a, st, q, len(xs)))
        if len(xs):
            where[(a, st, q)] = (xs.mean(), ys.mean())
    if len(where) == 6:
        w = where
        check(w[(0, 0, 0)][0] < w[(1, 0, 0)][0] < w[(A - 1, 0, 0)][0]
              and abs(w[(0, 0, 0)][1] - w[(A - 1, 0, 0)][1]) < 1,
              "classes of one strength and coherence lie on one row, left to right by angle")
        check(abs(w[(0, 0, 0)][0] - w[(0, 0, 1)][0]) < 1 and w[(0, 0, 0)][1] < w[(0, 0, 1)][1],
              "coherence bins lie in one column, top to bottom")
        check(w[(0, 0, 1)][1] < w[(0, 1, 0)][1] < w[(0, 1, 1)][1]
              and abs(w[(0, 1, 0)][0] - w[(0, 0, 0)][0]) < 1,
              "the strength bins are blocks one below the other")
    npy = os.path.join(tmp, "bank.npy")
    r = run("kernel", "show", "adaptive", "--npy", npy)
    check(r.returncode == 0 and np.load(npy).shape == (1, 1, 14, 14),
          "kernel show adaptive --npy writes the global kernel's (1, 1, 14, 14) weights: %s"
          % (r.stderr.strip() or "rc %d" % r.returncode))


def main():
    with tempfile.TemporaryDirectory(prefix="tconv-bank-") as tmp:
        bank = read_bank(os.path.join(PRESETS, "adaptive-x2.tconv"))
        colours = class_colours(bank["bins"])
        check(all(len(v) == 1 for v in colours.values()),
              "every class of adaptive-x2 has its own class-map colour")

        # a small photograph crop: the CLI against the definition
        src = np.array(Image.open(os.path.join(ROOT, "tests", "data", "sample", "chelsea-cat.png"))
                       .convert("RGB"))[100:124, 150:181]
        inp = os.path.join(tmp, "in.png")
        Image.fromarray(src).save(inp)
        out, cmap = os.path.join(tmp, "out.png"), os.path.join(tmp, "map.png")
        r = run("upscale", "--kernel", "adaptive", "--stride", "2", "--class-map", cmap,
                "--antiring", "0", "-i", inp, "-o", out)
        check(r.returncode == 0, "upscale --kernel adaptive --class-map: %s" % r.stderr.strip())
        if r.returncode == 0:
            m = np.array(Image.open(cmap).convert("RGB"))
            check(m.shape[:2] == src.shape[:2], "the class map has the input's size %s"
                  % (m.shape[:2],))
            known = all(tuple(int(v) for v in px) in colours for px in m.reshape(-1, 3))
            check(known, "every class-map pixel is a class colour")
            if known and m.shape[:2] == src.shape[:2]:
                classes = np.array([[colours[tuple(int(v) for v in px)][0] for px in row]
                                    for row in m])
                check(len(np.unique(classes)) >= 8, "the crop uses %d classes"
                      % len(np.unique(classes)))
                want = reference(bank, src.astype(np.float64) / 255.0, classes)
                want8 = np.clip(np.floor(want * 255.0 + 0.5), 0, 255)
                got = np.array(Image.open(out).convert("RGB")).astype(np.float64)
                diff = np.abs(got - want8)
                check(got.shape == want8.shape and diff.max() <= 1,
                      "x2 output = the bank's definition with the CLI's classes, within one "
                      "level (max %g, %d of %d samples differ)"
                      % (diff.max(), int((diff > 0).sum()), diff.size))

        # banks default to --antiring 0.75 (docs/antiring.md), single kernels to 0
        outs = {}
        for name, args in (("default", []), ("a75", ["--antiring", "0.75"]), ("a0", ["--antiring", "0"])):
            p = os.path.join(tmp, "ar-%s.png" % name)
            r = run("upscale", "--kernel", "adaptive", *args, "-i", inp, "-o", p)
            outs[name] = open(p, "rb").read() if r.returncode == 0 else r.stderr
        check(outs["default"] == outs["a75"] and outs["default"] != outs["a0"],
              "with a bank the default is --antiring 0.75")
        for name, args in (("default", []), ("a0", ["--antiring", "0"])):
            p = os.path.join(tmp, "bc-%s.png" % name)
            r = run("upscale", "--kernel", "bicubic", *args, "-i", inp, "-o", p)
            outs["b" + name] = open(p, "rb").read() if r.returncode == 0 else r.stderr
        check(outs["bdefault"] == outs["ba0"], "with a single kernel the default is --antiring 0")

        # straight edges: a vertical edge has angle 0 (red), a horizontal one pi/2 (cyan)
        for name, arr, hue in (("vertical", None, 0.0), ("horizontal", None, 0.5)):
            a = np.full((40, 50, 3), 100, np.uint8)
            a[:, 25:] = 200
            if name == "horizontal":
                a = a.transpose(1, 0, 2).copy()
            p = os.path.join(tmp, name + ".png")
            Image.fromarray(a).save(p)
            r = run("upscale", "--class-map", os.path.join(tmp, name + "-map.png"), "-i", p,
                    "-o", os.path.join(tmp, name + "-out.png"))
            ok = r.returncode == 0
            if ok:
                m = np.array(Image.open(os.path.join(tmp, name + "-map.png")).convert("RGB"))
                px = m[20, 24] if name == "vertical" else m[24, 20]
                h, s, v = colorsys.rgb_to_hsv(*(px / 255.0))
                ok = abs(h - hue) < 1e-3 and v == 1.0
            check(ok, "%s edge: the default kernel's class map shows angle %g pi, strongest "
                  "strength bin (%s)" % (name, hue, r.stderr.strip()))

        r = run("upscale", "--kernel", "bicubic", "--class-map", os.path.join(tmp, "m.png"),
                "-i", inp, "-o", os.path.join(tmp, "o.png"))
        check(r.returncode == 2 and "not a kernel bank" in r.stderr
              and not os.path.exists(os.path.join(tmp, "o.png")),
              "--class-map with a single kernel is refused before any output: %s"
              % r.stderr.strip())

        o = os.path.join(tmp, "o2.png")
        r = run("upscale", "--class-map", os.path.join(tmp, "no-such-folder", "m.png"),
                "-i", inp, "-o", o)
        check(r.returncode == 1 and "no-such-folder" in r.stderr and not os.path.exists(o),
              "a class map into a missing folder is refused before the image is written: %s"
              % r.stderr.strip())
        r = run("upscale", "--class-map", o, "-i", inp, "-o", o)
        check(r.returncode != 0 and not os.path.exists(o),
              "the class map cannot be the output image: %s" % r.stderr.strip())

        bad = os.path.join(tmp, "bad.tconv")
        text = open(os.path.join(PRESETS, "adaptive-x2.tconv"), encoding="utf-8").read()
        open(bad, "w", encoding="utf-8").write(text.replace("class 3 trained", "class 4 trained", 1))
        r = run("upscale", "--kernel", bad, "-i", inp, "-o", os.path.join(tmp, "o.png"))
        line = text[:text.index("class 3 trained")].count("\n") + 1
        check(r.returncode != 0 and ("bad.tconv':%d:" % line) in r.stderr,
              "a bank with classes out of order: the error names line %d: %s"
              % (line, r.stderr.strip()))

        bank_picture(tmp)

    print(f"1..{n_tests}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
