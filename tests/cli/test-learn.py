#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""tconv learn, the learned presets and --kernel learned/self.

Checks option errors (each names the bad value), the written file (provenance, phases
summing to 1, symmetry, determinism), that learning recovers a planted kernel from images
made here, the shipped presets' invariants, that `--kernel learned --stride 3` is
learned-x3.tconv and the default at x2-x4 is `learned`, and `--kernel self`."""
import os
import re
import shlex
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

TCONV = os.environ.get("TCONV")
WRAP = shlex.split(os.environ.get("TCONV_WRAPPER", ""))
ROOT = os.environ.get("TCONV_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
PRESETS = os.path.join(ROOT, "presets")
if not TCONV:
    sys.exit("test-learn.py: set TCONV to the tconv binary")

n_tests = 0
failed = 0


def check(cond, desc):
    global n_tests, failed
    n_tests += 1
    if not cond:
        failed += 1
    desc = " | ".join(str(desc).splitlines())  # one TAP line per result
    print(("ok" if cond else "not ok") + f" {n_tests} - {desc}", flush=True)


def run(*args, gegl=True):
    """Runs tconv. Valgrind (TCONV_WRAPPER) wraps only runs that stop before GEGL starts:
    valgrind cannot run GEGL's own code cleanly, and the sanitizer build covers those."""
    env = dict(os.environ, TCONV_PRESET_DIR=PRESETS)
    wrap = [] if gegl else WRAP
    return subprocess.run(wrap + [TCONV, *args], capture_output=True, text=True, env=env,
                          timeout=120 * (10 if wrap else 1))


def parse_tconv(path):
    """The fields and weights of a .tconv file (enough of the format for these checks)."""
    fields, rows, in_weights = {}, [], False
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if in_weights:
            if line == "end":
                break
            rows.append([float(v) for v in line.split()])
            continue
        if line.startswith("#") or not line:
            continue
        key, _, value = line.partition(" ")
        if key == "weights":
            in_weights = True
        else:
            fields[key] = value
    return fields, np.array(rows, dtype=np.float64)


def phase_sums(w, s):
    return [w[ry::s, rx::s].sum() for ry in range(s) for rx in range(s)]


def luma_mse_x2_area(rgb, w):
    """Mean squared luma error of kernel w (8x8, stride 2, padding 3, as tconv learn makes
    it) on the pair (2x2 box average of rgb, rgb), over the outputs whose taps all read
    inside the image: a plain numpy ConvTranspose2d, independent of the learner."""
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    lr_rgb = rgb.reshape(rgb.shape[0] // 2, 2, rgb.shape[1] // 2, 2, 3).mean(axis=(1, 3))
    lr_rgb = np.round(np.clip(lr_rgb, 0, 1) * 255) / 255
    lr = 0.299 * lr_rgb[..., 0] + 0.587 * lr_rgb[..., 1] + 0.114 * lr_rgb[..., 2]
    s, k, pad = 2, 8, 3
    h, wd = lr.shape
    full = np.zeros(((h - 1) * s + k, (wd - 1) * s + k))
    for iy in range(h):
        for ix in range(wd):
            full[iy * s:iy * s + k, ix * s:ix * s + k] += lr[iy, ix] * w
    out = full[pad:pad + h * s, pad:pad + wd * s]
    m = k  # margin: every output farther than k from the border reads only real inputs
    return float(np.mean((out[m:-m, m:-m] - y[m:-m, m:-m]) ** 2))


def ints(text):
    return [int(v) for v in text.split()]


def save(path, arr):
    Image.fromarray(np.clip(np.round(arr), 0, 255).astype(np.uint8)).save(path)


def smooth_noise(rng, h, w, passes=2):
    x = rng.random((h, w)) * 255
    for _ in range(passes):
        x = (x + np.roll(x, 1, 0) + np.roll(x, 1, 1) + np.roll(x, (1, 1), (0, 1))) / 4
    return x


def main():
    rng = np.random.default_rng(42)
    with tempfile.TemporaryDirectory(prefix="tconv-test-learn-") as tmp:
        imgs = []
        for i in range(3):
            g = smooth_noise(rng, 96, 120)
            rgb = np.stack([g, np.roll(g, 3, 1), 255 - g], axis=-1)
            p = os.path.join(tmp, f"img{i}.png")
            save(p, rgb)
            imgs.append(p)
        out = os.path.join(tmp, "k.tconv")

        # ---- option errors ----
        r = run("learn", "--size", "8", "-o", out, *imgs, gegl=False)
        check(r.returncode == 2 and "--stride is required" in r.stderr, f"missing --stride: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "-o", out, *imgs, gegl=False)
        check(r.returncode == 2 and "--size is required" in r.stderr, f"missing --size: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "--size", "8", *imgs, gegl=False)
        check(r.returncode == 2 and "-o" in r.stderr, f"missing -o: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "--size", "8", "-o", out, gegl=False)
        check(r.returncode == 2 and "no training images" in r.stderr, f"no images: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "--size", "8", "--degradation", "bilinear", "-o", out, *imgs, gegl=False)
        check(r.returncode == 2 and "'bilinear'" in r.stderr, f"unknown degradation: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "--size", "8", "--symmetry", "rot", "-o", out, *imgs, gegl=False)
        check(r.returncode == 2 and "'rot'" in r.stderr, f"unknown symmetry: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "--size", "8", "--ridge", "-1", "-o", out, *imgs, gegl=False)
        check(r.returncode == 2 and "--ridge -1" in r.stderr, f"negative ridge: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "--size", "8", "--weighting", "equal", "-o", out, *imgs, gegl=False)
        check(r.returncode == 2 and "--weighting 'equal'" in r.stderr and "per-image" in r.stderr,
              f"unknown weighting: {r.stderr.strip()}")
        r = run("learn", "--stride", "99", "--size", "8", "-o", out, *imgs, gegl=False)
        check(r.returncode == 2 and "--stride 99" in r.stderr, f"stride out of range: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "--size", "8", "--sigma", "0", "-d", "gauss", "-o", out, *imgs, gegl=False)
        check(r.returncode == 2 and "--sigma 0" in r.stderr, f"sigma 0: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "--size", "8", "-o", imgs[0], *imgs, gegl=False)
        check(r.returncode == 2 and "also an input" in r.stderr, f"output = input refused: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "--size", "8", "-o", os.path.join(tmp, "no", "k.tconv"), *imgs, gegl=False)
        check(r.returncode == 1 and "does not exist" in r.stderr, f"missing output folder: {r.stderr.strip()}")
        r = run("learn", "--stride", "2", "--size", "8", "-o", out, os.path.join(tmp, "nope.png"))
        check(r.returncode == 1 and "nope.png" in r.stderr and not os.path.exists(out),
              f"missing image, no output: {r.stderr.strip()}")
        trunc = os.path.join(tmp, "trunc.png")
        open(trunc, "wb").write(open(imgs[0], "rb").read()[:600])
        r = run("learn", "--stride", "2", "--size", "8", "-o", out, trunc)
        check(r.returncode == 1 and "trunc.png" in r.stderr and not os.path.exists(out),
              f"truncated image refused, no output: {r.stderr.strip()[:120]}")
        r = run("learn", "--stride", "2", "--size", "8", "-o", os.path.join(tmp, "Bad Name.tconv"), *imgs)
        check(r.returncode == 2 and "--name" in r.stderr, f"output name not a kernel name: {r.stderr.strip()}")
        flat = os.path.join(tmp, "flat.png")
        save(flat, np.full((40, 40, 3), 128.0))
        r = run("learn", "--stride", "2", "--size", "8", "-o", out, flat)
        check(r.returncode == 1 and "singular" in r.stderr and not os.path.exists(out),
              f"flat image: rank-deficient error, no output: {r.stderr.strip()}")

        # ---- a good run ----
        r = run("learn", "--stride", "2", "--size", "8", "-d", "mix", "-o", out, *imgs)
        check(r.returncode == 0 and "training PSNR-Y" in r.stdout, f"learn x2 K8 mix: {r.stdout.strip()} {r.stderr.strip()}")
        f, w = parse_tconv(out)
        check(f.get("name") == "k" and f.get("provenance") == "learned" and ints(f["stride"]) == [2, 2]
              and ints(f["size"]) == [8, 8] and ints(f["padding"]) == [3, 3] and ints(f["output-padding"]) == [0, 0],
              "geometry 8x8, padding 3, exact x2, provenance learned, name from the file")
        check("img0.png (sha256 " in f.get("source", "") and "3 images" in f.get("source", ""),
              f"source names the images and their hashes: {f.get('source', '')[:80]}")
        check("bicubic" in f.get("degradation", "") and "area" in f.get("degradation", "")
              and "gauss" in f.get("degradation", ""), f"degradation recorded: {f.get('degradation')}")
        check(f.get("command", "").startswith('"tconv learn --stride 2 --size 8 --degradation mix'),
              f"command recorded: {f.get('command')}")
        check(max(abs(v - 1) for v in phase_sums(w, 2)) < 1e-6, "every phase sums to 1")
        check(np.array_equal(w, w[::-1, :]) and np.array_equal(w, w[:, ::-1]) and np.array_equal(w, w.T),
              "default dihedral symmetry holds exactly")
        first = open(out, "rb").read()
        r = run("learn", "--stride", "2", "--size", "8", "-d", "mix", "-o", out, *imgs)
        check(r.returncode == 0 and open(out, "rb").read() == first, "a second run writes the same bytes")

        # ---- per-image weighting ----
        # One sharp random image (large error) and one smooth one (small error): pooled least
        # squares follows the sharp one; per-image weighting must give the smooth one more say,
        # which shows as a lower error on it and a higher mean PSNR over the two (scored here
        # with numpy: the kernel applied by the test's own transposed convolution).
        sharp = os.path.join(tmp, "sharp.png")
        smooth = os.path.join(tmp, "smooth.png")
        rng = np.random.default_rng(11)
        save(sharp, rng.uniform(0, 255, (96, 96, 3)))
        save(smooth, smooth_noise(rng, 96, 96, passes=6))
        pooled_k = os.path.join(tmp, "pooled.tconv")
        per_k = os.path.join(tmp, "per.tconv")
        r1 = run("learn", "-s", "2", "-k", "8", "-d", "area", "-o", pooled_k, sharp, smooth)
        r2 = run("learn", "-s", "2", "-k", "8", "-d", "area", "--weighting", "per-image", "-o", per_k, sharp, smooth)
        check(r1.returncode == 0 and r2.returncode == 0, f"learn pooled / per-image: {r1.stderr.strip()} {r2.stderr.strip()}")
        if r1.returncode == 0 and r2.returncode == 0:
            fp, wp = parse_tconv(pooled_k)
            fi, wi = parse_tconv(per_k)
            check("--weighting per-image" in fi.get("command", "") and "--weighting" not in fp.get("command", ""),
                  f"weighting recorded in the command: {fi.get('command')}")
            check(max(abs(v - 1) for v in phase_sums(wi, 2)) < 1e-6 and np.array_equal(wi, wi.T),
                  "per-image: phases sum to 1, symmetric")
            errs = {}
            for name, w in (("pooled", wp), ("per-image", wi)):
                errs[name] = [luma_mse_x2_area(np.asarray(Image.open(p).convert("RGB"), dtype=np.float64) / 255.0, w)
                              for p in (sharp, smooth)]
            mean_psnr = {n: np.mean([-10 * np.log10(e) for e in v]) for n, v in errs.items()}
            check(errs["per-image"][1] < errs["pooled"][1] and mean_psnr["per-image"] > mean_psnr["pooled"]
                  and errs["per-image"][0] >= errs["pooled"][0],
                  "per-image: lower error on the smooth image (%.3g < %.3g), mean PSNR %.2f > pooled %.2f"
                  % (errs["per-image"][1], errs["pooled"][1], mean_psnr["per-image"], mean_psnr["pooled"]))

        # ---- --shifts: the s x s crop offsets of each image ----
        # The reference: the same image cropped at every offset (dx, dy) by numpy, saved as
        # separate files and learned without --shifts (pooled, so one sum of the same pairs).
        src = np.asarray(Image.open(imgs[0]).convert("RGB"), dtype=np.float64)
        crops = []
        for dy in range(3):
            for dx in range(3):
                p = os.path.join(tmp, f"crop{dy}{dx}.png")
                save(p, src[dy:, dx:])
                crops.append(p)
        shift_k = os.path.join(tmp, "shifts.tconv")
        crops_k = os.path.join(tmp, "crops.tconv")
        r1 = run("learn", "-s", "3", "-k", "9", "-d", "area", "--symmetry", "none", "--shifts", "-o", shift_k, imgs[0])
        r2 = run("learn", "-s", "3", "-k", "9", "-d", "area", "--symmetry", "none", "-o", crops_k, *crops)
        check(r1.returncode == 0 and r2.returncode == 0, f"learn --shifts / crops: {r1.stderr.strip()} {r2.stderr.strip()}")
        if r1.returncode == 0 and r2.returncode == 0:
            fs, ws = parse_tconv(shift_k)
            _, wc = parse_tconv(crops_k)
            check(np.abs(ws - wc).max() < 1e-5,
                  "--shifts equals learning the 9 offset crops as files (max diff %.2g)" % np.abs(ws - wc).max())
            check("--shifts" in fs.get("command", "") and "every offset" in fs.get("source", ""),
                  f"--shifts recorded: {fs.get('command')} / {fs.get('source', '')[:60]}")
        r = run("learn", "-s", "3", "-k", "9", "-d", "area", "--symmetry", "none", "-o", shift_k, imgs[0])
        if r.returncode == 0 and r1.returncode == 0:
            _, w1 = parse_tconv(shift_k)
            check(np.abs(w1 - ws).max() > 1e-4, "without --shifts the kernel differs (the option does something)")

        r = run("learn", "-s", "3", "-k", "10", "--no-normalize", "--symmetry", "none", "--ridge", "1e-3",
                "-o", out, *imgs)
        f, w = parse_tconv(out)
        check(r.returncode == 0 and ints(f["size"]) == [10, 10] and ints(f["padding"]) == [4, 4]
              and ints(f["output-padding"]) == [1, 1] and "--no-normalize" in f["command"]
              and "--ridge 0.001" in f["command"], "x3 K10 --no-normalize: padding 4, output padding 1")

        # ---- a planted kernel is recovered through files, GEGL and the CLI ----
        # HR = nearest-neighbour x2 of random LR, so the area degradation gives back LR
        # exactly and the one exact (and so least-squares) kernel is nearest: in a 4x4 kernel
        # (padding 1, taps at offsets -0.75 -0.25 0.25 0.75) the middle 2x2 taps are 1.
        lr = (rng.random((60, 70)) * 255).round()
        hr = np.kron(lr, np.ones((2, 2)))
        p = os.path.join(tmp, "blocks.png")
        save(p, np.stack([hr] * 3, axis=-1))
        r = run("learn", "-s", "2", "-k", "4", "-d", "area", "--symmetry", "none", "-o", out, p)
        f, w = parse_tconv(out)
        want = np.zeros((4, 4))
        want[1:3, 1:3] = 1
        check(r.returncode == 0 and np.abs(w - want).max() < 1e-4,
              f"area-degraded block image: the box kernel is learned (max err {np.abs(w - want).max():.2g})")

        # ---- shipped presets ----
        for s in (2, 3, 4):
            for name, mult in (("learned", 6), ("learned-small", 4)):
                path = os.path.join(PRESETS, f"{name}-x{s}.tconv")
                if not os.path.exists(path):
                    check(False, f"{path} exists")
                    continue
                f, w = parse_tconv(path)
                k = mult * s
                sums = phase_sums(w, s)
                pad = (k - s + 1) // 2
                # the mirror of tap k is 2 pad + s - 1 - k; taps without one are 0
                m = 2 * pad + s - 1
                idx = [m - i for i in range(k)]
                mir = np.zeros_like(w)
                for i in range(k):
                    for j in range(k):
                        if 0 <= idx[i] < k and 0 <= idx[j] < k:
                            mir[i, j] = w[idx[i], idx[j]]
                check(f["name"] == f"{name}-x{s}" and ints(f["size"]) == [k, k] and ints(f["stride"]) == [s, s]
                      and f["provenance"] == "learned" and w.shape == (k, k)
                      and k + ints(f["output-padding"])[0] - 2 * ints(f["padding"])[0] == s,
                      f"{name}-x{s}: {k}x{k}, exact x{s}, provenance learned")
                check(max(abs(v - 1) for v in sums) < 1e-6, f"{name}-x{s}: every phase sums to 1 (worst {max(abs(v - 1) for v in sums):.2g})")
                check(np.array_equal(w, mir) and np.array_equal(w, w.T), f"{name}-x{s}: flip and transpose symmetric")
                check("heldout" not in f.get("source", "") and all(
                    h not in f.get("source", "") for h in ("r01_", "r03_", "r05_", "r10_", "r12_", "r13_")),
                      f"{name}-x{s}: trained without the held-out photographs")

        # ---- the commands use them ----
        src = os.path.join(tmp, "small.png")
        save(src, np.stack([smooth_noise(rng, 30, 34)] * 3, axis=-1))
        outs = {}
        for key, args in (("learned3", ["--kernel", "learned", "--stride", "3"]),
                          ("file3", ["--kernel", os.path.join(PRESETS, "learned-x3.tconv")]),
                          ("default2", ["--stride", "2"]),
                          ("file2", ["--kernel", os.path.join(PRESETS, "adaptive-x2.tconv")]),
                          ("bicubic5", ["--stride", "5"]),
                          ("default5", ["--kernel", "bicubic", "--stride", "5"]),
                          ("small4", ["--kernel", "learned-small", "--stride", "4"]),
                          ("smallfile4", ["--kernel", os.path.join(PRESETS, "learned-small-x4.tconv")])):
            o = os.path.join(tmp, f"up-{key}.png")
            r = run("upscale", *args, "-i", src, "-o", o)
            outs[key] = open(o, "rb").read() if r.returncode == 0 else r.stderr
        check(outs["learned3"] == outs["file3"], "--kernel learned --stride 3 is presets/learned-x3.tconv")
        check(outs["default2"] == outs["file2"], "the default kernel at x2 is the adaptive bank")
        check(outs["bicubic5"] == outs["default5"], "the default kernel at x5 (no preset) is bicubic")
        check(outs["small4"] == outs["smallfile4"], "--kernel learned-small --stride 4 is learned-small-x4.tconv")
        r = run("upscale", "--kernel", "learned", "--stride", "7", "-i", src, "-o", os.path.join(tmp, "x.png"))
        check(r.returncode == 2 and "'learned'" in r.stderr, f"no learned preset at x7: {r.stderr.strip()[:120]}")

        # ---- --kernel self ----
        o = os.path.join(tmp, "self.png")
        r = run("upscale", "--kernel", "self", "--stride", "2", "-i", imgs[0], "-o", o)
        check(r.returncode == 0 and Image.open(o).size == (240, 192), f"--kernel self x2: {r.stderr.strip()}")
        r = run("upscale", "--kernel", "self", "--stride", "3", "-i", flat, "-o", o)
        a = np.asarray(Image.open(o)) if r.returncode == 0 else None
        check(a is not None and a.shape == (120, 120, 3) and (a == 128).all(),
              f"--kernel self on a flat image keeps it flat: {r.stderr.strip()}")
        tiny = os.path.join(tmp, "tiny.png")
        save(tiny, np.stack([smooth_noise(rng, 12, 12)] * 3, axis=-1))
        r = run("upscale", "--kernel", "self", "--stride", "4", "-i", tiny, "-o", o)
        check(r.returncode != 0 and "kernel self" in r.stderr, f"--kernel self on a tiny image: {r.stderr.strip()[:100]}")
        r = run("upscale", "--kernel", "self", "--stride", "2,3", "-i", imgs[0], "-o", o)
        check(r.returncode != 0 and "self" in r.stderr, f"--kernel self with unequal strides: {r.stderr.strip()[:100]}")

    print(f"1..{n_tests}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
