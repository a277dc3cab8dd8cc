#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Speed comparison in one run: `tconv bench` against PyTorch's conv_transpose2d, OpenCV's
resize and libvips on the standard workloads, plus an end-to-end 12-megapixel PNG x2 with
the same kernel and PNG settings for every tool that has them (vips, ImageMagick with its
resource limits raised, gegl), each with its peak RSS.

    tests/bench/compare.py [--tconv build/cli/tconv] [--threads 2] [--runs 7] [--no-e2e]

A missing comparator is skipped with the Debian package that provides it (python3-torch,
python3-opencv, libvips-tools, imagemagick, gegl, time, python3-pil); the script never
installs anything. Prints a table of
medians (ms) and ratios; with --json also one JSON object per line.

Workloads (see `tconv bench`): W1 2048x2048x4 float32 x2 K=4 depthwise; W2 same x4 K=8;
W3 2048x2048x3 uint8 x2 bilinear; W4 2048x2048x4 float32 x2 with the shipped learned-x2 kernel
(K=12; a tent of that size when the preset is not found, which `tconv bench` says on stderr).
Comparators do the closest equivalent job: torch conv_transpose2d with groups = channels and
the same kernel size (W1, W2, W4); OpenCV resize INTER_LINEAR to the same output size (W1-W3,
the speed targets' yardstick; into a preallocated output, as tconv bench writes into touched buffers,
so neither side times page faults); libvips `vips resize` on an uncompressed .v image in /dev/shm (W1:
float, W3: uchar; the CLI includes reading and writing the .v files).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def have_module(name):
    try:
        __import__(name)
        return True
    except Exception:
        return False


def available(what, package, check):
    """Whether `check` holds; if not, says which Debian package would provide `what`."""
    if check():
        return True
    print(f"# {what}: skipped (missing; Debian package {package})")
    return False


def have_program(name):
    return shutil.which(name) is not None


def median_ms(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def tconv_bench(tconv, threads, runs):
    out = subprocess.run([tconv, "bench", "--json", "--threads", str(threads), "--runs", str(runs)],
                         capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {r["workload"]: r for r in rows if "workload" in r}, next(
        (r for r in rows if r.get("probe")), None)


def torch_times(threads, runs):
    import torch
    torch.set_num_threads(threads)
    res = {}
    for name, s, k in (("W1", 2, 4), ("W2", 4, 8), ("W4", 2, 12)):
        x = torch.rand(1, 4, 2048, 2048)
        w = torch.rand(4, 1, k, k)
        p = (k - s) // 2
        with torch.no_grad():
            res[name] = median_ms(lambda: torch.nn.functional.conv_transpose2d(
                x, w, stride=s, padding=p, groups=4), max(3, runs // 3))
    return res


def opencv_times(threads, runs):
    import cv2
    import numpy as np
    cv2.setNumThreads(threads)
    res = {}
    f = np.random.default_rng(1).random((2048, 2048, 4), dtype=np.float32)
    u = (np.random.default_rng(2).random((2048, 2048, 3)) * 255).astype(np.uint8)
    # outputs allocated and touched once: the timed calls write into them
    f2, f4 = np.zeros((4096, 4096, 4), np.float32), np.zeros((8192, 8192, 4), np.float32)
    u2 = np.zeros((4096, 4096, 3), np.uint8)
    res["W1"] = median_ms(lambda: cv2.resize(f, (4096, 4096), dst=f2,
                                             interpolation=cv2.INTER_LINEAR), runs)
    res["W2"] = median_ms(lambda: cv2.resize(f, (8192, 8192), dst=f4,
                                             interpolation=cv2.INTER_LINEAR), runs)
    res["W3"] = median_ms(lambda: cv2.resize(u, (4096, 4096), dst=u2,
                                             interpolation=cv2.INTER_LINEAR), runs)
    return res


def vips_times(threads, runs, tmp):
    """vips resize on .v files (uncompressed, memory-mapped) in /dev/shm."""
    import numpy as np
    env = {**os.environ, "VIPS_CONCURRENCY": str(threads)}
    res = {}
    for name, fmt, bands in (("W1", "float", 4), ("W3", "uchar", 3)):
        src = os.path.join(tmp, f"{name}.v")
        dst = os.path.join(tmp, f"{name}-out.v")
        # make the source with vips itself: noise scaled to the format
        subprocess.run(["vips", "gaussnoise", os.path.join(tmp, "n.v"), "2048", "2048"],
                       check=True, env=env)
        bandjoin = os.path.join(tmp, "nb.v")
        subprocess.run(["vips", "bandjoin", " ".join([os.path.join(tmp, "n.v")] * bands), bandjoin],
                       check=True, env=env)
        subprocess.run(["vips", "cast", bandjoin, src, fmt], check=True, env=env)
        res[name] = median_ms(lambda: subprocess.run(
            ["vips", "resize", src, dst, "2", "--kernel", "linear"], check=True, env=env),
            max(3, runs // 2))
    return res


E2E_PACKAGES = {"tconv": "none: build tconv first", "vips": "libvips-tools",
                "ImageMagick": "imagemagick", "gegl": "gegl"}

# Raised resource limits for ImageMagick, in a policy file of its own: Debian's policy.xml
# caps memory at 256 MiB and area at 128 megapixels, which sends a 48-megapixel result's
# pixel cache to disk, and command-line -limit cannot raise a policy's cap.
IM_POLICY = """<policymap>
  <policy domain="resource" name="memory" value="16GiB"/>
  <policy domain="resource" name="map" value="16GiB"/>
  <policy domain="resource" name="area" value="16GP"/>
  <policy domain="resource" name="disk" value="16GiB"/>
  <policy domain="resource" name="width" value="1MP"/>
  <policy domain="resource" name="height" value="1MP"/>
</policymap>
"""


def imagemagick():
    """ImageMagick's convert, or None: a program of that name that is not ImageMagick (a
    stand-in earlier in PATH) does not count."""
    for cand in (shutil.which("convert"), "/usr/bin/convert"):
        if cand and os.access(cand, os.X_OK):
            r = subprocess.run([cand, "-version"], capture_output=True, text=True)
            if r.returncode == 0 and "ImageMagick" in r.stdout:
                return cand
    return None


def e2e_jobs(tconv, threads, src, tmp):
    """Per kernel, each tool's command for src x2 -> PNG at zlib level 3 with the "up" row
    filter on every row (tconv's own writer), and a note where a tool cannot do that."""
    def out(name):
        return os.path.join(tmp, name + ".png")
    t = [tconv, "upscale", "-i", src, "--stride", "2", "--threads", str(threads)]
    im = imagemagick()
    im_png = ["-define", "png:compression-level=3", "-define", "png:compression-filter=2"]
    jobs = {"cubic (Keys a = -0.5, Catmull-Rom)": [
        ("tconv", "tconv upscale --kernel bicubic", t + ["-o", out("t-cubic"), "--kernel", "bicubic"], ""),
        ("vips", "vips resize --kernel cubic",
         ["vips", "resize", src, out("v-cubic") + "[compression=3,filter=up]", "2",
          "--kernel", "cubic"], ""),
        ("ImageMagick", "convert -filter Catrom -resize 200%",
         [im or "convert", src, "-filter", "Catrom", "-resize", "200%", *im_png, out("m-cubic")],
         "limits raised (own policy.xml)"),
        ("gegl", "gegl gegl:scale-ratio sampler=cubic",
         ["gegl", src, "-o", out("g-cubic"), "--", "gegl:scale-ratio", "x=2", "y=2",
          "sampler=cubic"], "GEGL's own cubic; png-save picks its row filters"),
    ], "lanczos3": [
        ("tconv", "tconv upscale --kernel lanczos3", t + ["-o", out("t-l3"), "--kernel", "lanczos3"], ""),
        ("vips", "vips resize (lanczos3)",
         ["vips", "resize", src, out("v-l3") + "[compression=3,filter=up]", "2"], ""),
        ("ImageMagick", "convert -filter Lanczos -resize 200%",
         [im or "convert", src, "-filter", "Lanczos", "-resize", "200%", *im_png, out("m-l3")],
         "limits raised (own policy.xml)"),
        ("gegl", None, None, "no Lanczos sampler"),
    ]}
    return jobs, im is not None


def e2e(tconv, threads, tmp):
    """12-megapixel 8-bit RGB PNG x2 to PNG, the same kernel and the same PNG settings (zlib
    level 3, "up" filter) for every tool that can; wall time and peak RSS per row."""
    import numpy as np
    from PIL import Image
    src = os.path.join(tmp, "e2e-4000x3000.png")
    # photo-like content: a photograph tiled (PNG cost depends on it)
    train = os.path.join(ROOT, "data", "heldout", "r12_cockatoo_a.png")
    base = np.asarray(Image.open(train).convert("RGB")) if os.path.exists(train) else \
        (np.random.default_rng(0).random((360, 636, 3)) * 255).astype(np.uint8)
    reps = (3000 // base.shape[0] + 1, 4000 // base.shape[1] + 1, 1)
    img = np.tile(base, reps)[:3000, :4000]
    Image.fromarray(img).save(src, compress_level=6)
    policy = os.path.join(tmp, "im-policy")
    os.makedirs(policy, exist_ok=True)
    with open(os.path.join(policy, "policy.xml"), "w") as fh:
        fh.write(IM_POLICY)
    env = {**os.environ, "VIPS_CONCURRENCY": str(threads), "MAGICK_THREAD_LIMIT": str(threads),
           "GEGL_THREADS": str(threads), "MAGICK_CONFIGURE_PATH": policy,
           "TCONV_PRESET_DIR": os.path.join(ROOT, "presets")}
    jobs, have_im = e2e_jobs(tconv, threads, src, tmp)
    res = {}
    for kernel, rows in jobs.items():
        for tool, label, cmd, note in rows:
            key = (kernel, label or tool)
            if cmd is None:
                res[key] = ("cannot", note)
                continue
            if (tool == "ImageMagick" and not have_im) or \
                    (tool != "ImageMagick" and shutil.which(cmd[0]) is None
                     and not os.path.exists(cmd[0])):
                res[key] = ("missing", E2E_PACKAGES[tool])
                continue
            t0 = time.perf_counter()
            r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True,
                               text=True, env=env)
            wall = time.perf_counter() - t0
            rss = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
            res[key] = ("ran", wall * 1e3, int(rss) / 1024 if rss.isdigit() else None,
                        r.returncode, note)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tconv", default=os.path.join(ROOT, "build", "cli", "tconv"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-e2e", action="store_true")
    args = ap.parse_args()

    print(f"# {time.strftime('%Y-%m-%d')} {os.uname().machine}, {os.cpu_count()} cores, "
          f"threads {args.threads}")
    t1, probe1 = tconv_bench(args.tconv, 1, args.runs)
    tt, probe = tconv_bench(args.tconv, args.threads, args.runs)
    print(f"# STREAM scale ({args.threads} threads, {probe['array_mib']} MiB arrays): best "
          f"{probe['best_gbs']} GB/s, median {probe['median_gbs']}, worst {probe['worst_gbs']} "
          f"(spread {probe['spread_pct']} %)")
    print("# floors: STREAM = bytes read + written at that rate; nearest = nearest-neighbour "
          "x s into the same output (median, its spread in 'nn sp')")

    comps = {}
    if available("torch", "python3-torch", lambda: have_module("torch")):
        comps["torch"] = torch_times(args.threads, args.runs)
    if available("opencv", "python3-opencv", lambda: have_module("cv2")):
        comps["opencv"] = opencv_times(args.threads, args.runs)
    tmp = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        if available("vips", "libvips-tools", lambda: have_program("vips")):
            comps["vips"] = vips_times(args.threads, args.runs, tmp)

        hdr = (f"{'':4} {'tconv 1T':>9} {'tconv':>8} {'STREAM':>7} {'x':>6} {'nearest':>8} "
               f"{'x':>6} {'nn sp':>6} {'GFLOP/s':>8} {'torch':>8} {'torch/tc':>8} {'opencv':>8} "
               f"{'tc/cv':>6} {'vips':>8} {'tc/vips':>7}")
        print(hdr)
        for w in ("W1", "W2", "W3", "W4"):
            r = tt[w]

            def cell(c, fmt="{:8.1f}", width=8):
                v = comps.get(c, {}).get(w)
                return fmt.format(v) if v is not None else " " * (width - 1) + "-"
            tor = comps.get("torch", {}).get(w)
            cv = comps.get("opencv", {}).get(w)
            vp = comps.get("vips", {}).get(w)
            print(f"{w:4} {t1[w]['median_ms']:9.2f} {r['median_ms']:8.2f} {r['floor_ms']:7.2f} "
                  f"{r['ratio']:6.2f} {r['nearest_ms']:8.2f} {r['nearest_ratio']:6.2f} "
                  f"{r['nearest_spread_pct']:5.0f}% {r['gflops']:8.1f} {cell('torch')} "
                  f"{(tor / r['median_ms']) if tor else float('nan'):8.1f} {cell('opencv')} "
                  f"{(r['median_ms'] / cv) if cv else float('nan'):6.2f} {cell('vips')} "
                  f"{(r['median_ms'] / vp) if vp else float('nan'):7.2f}")

        if not args.no_e2e and available("end to end", "time",
                                          lambda: os.access("/usr/bin/time", os.X_OK)) \
                and available("end to end", "python3-pil", lambda: have_module("PIL")):
            print("\n# end to end: 4000x3000 8-bit RGB PNG x2 -> PNG, zlib level 3, 'up' row "
                  f"filter where the tool can set it, {args.threads} threads")
            kernel = None
            for (k, label), v in e2e(args.tconv, args.threads, tmp).items():
                if k != kernel:
                    print(f"## {k}")
                    kernel = k
                if v[0] == "cannot":
                    print(f"{label:40} -  ({v[1]})")
                elif v[0] == "missing":
                    print(f"{label:40} skipped (missing; Debian package {v[1]})")
                else:
                    _, ms, rss, rc, note = v
                    print(f"{label:40} {ms / 1e3:7.2f} s  peak {rss or float('nan'):7.0f} MiB"
                          + ("" if rc == 0 else f"  (exit {rc})") + (f"  ({note})" if note else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
