#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Quality benchmark: the standard single-image super-resolution protocol over a folder.

For every image, scale s and low-resolution kind:
  1. crop the high-resolution image to a multiple of s (top-left, "modcrop");
  2. make the low-resolution image: MATLAB imresize(hr, 1/s) bicubic with antialiasing
     (imresize.py, a numpy port of imresize.m), or the mean of each s x s block ("area"),
     computed in double on the 8-bit values, rounded and clamped to 8 bits, saved as PNG;
  3. up-sample it with `tconv upscale --kernel NAME --stride s` (PNG in, 8-bit PNG out);
  4. score BT.601 luma Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 (float, not
     rounded) with s pixels shaved from each border: PSNR (peak 255) and SSIM (Wang et al.
     2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, L 255, 'valid' filtering).
Scores are averaged over the images (mean of per-image PSNR, as papers report).

Usage:
  /usr/bin/python3 tests/bench/quality.py [--split heldout] [--kernels a,b,..] DIR
  /usr/bin/python3 tests/bench/quality.py --split heldout data/heldout
--split uses tests/bench/split.txt (roles heldout / val / train) to pick files of DIR;
without it every PNG in DIR is used. A kernel is a name known to `tconv upscale` or a
.tconv path; '{s}' in a path is replaced by the scale. Needs python3-numpy, -scipy, -pil.
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image
from scipy.signal import fftconvolve

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, HERE)
import imresize  # noqa: E402

DEFAULT_KERNELS = ['nearest', 'bilinear', 'bicubic', 'mitchell', 'bspline', 'lanczos2',
                   'lanczos3', 'learned-small', 'learned', 'self']


def load_rgb(path):
    im = Image.open(path)
    if im.mode != 'RGB':
        im = im.convert('RGB')
    return np.asarray(im, dtype=np.uint8)


def luma(rgb_u8):
    x = rgb_u8.astype(np.float64)
    return 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return float('inf') if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def _gauss_window(size=11, sigma=1.5):
    ax = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(ax ** 2) / (2 * sigma ** 2))
    w = np.outer(g, g)
    return w / w.sum()


_WIN = _gauss_window()


def ssim(a, b):
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    f = lambda x: fftconvolve(x, _WIN, mode='valid')
    mu_a, mu_b = f(a), f(b)
    saa = f(a * a) - mu_a ** 2
    sbb = f(b * b) - mu_b ** 2
    sab = f(a * b) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (saa + sbb + c2))
    return float(m.mean())


def score(hr_u8, sr_u8, s):
    ya, yb = luma(hr_u8), luma(sr_u8)
    ya, yb = ya[s:-s, s:-s], yb[s:-s, s:-s]
    return psnr(ya, yb), ssim(ya, yb)


def make_lr(hr_u8, s, kind):
    out = imresize.reduce(hr_u8.astype(np.float64), s, 'bicubic' if kind == 'bicubic' else 'area')
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def read_split(path):
    roles = {}
    for line in open(path):
        line = line.split('#', 1)[0].split()
        if len(line) == 2:
            roles[line[1]] = line[0]
    return roles


def pick_images(folder, split):
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith('.png'))
    if split:
        roles = read_split(os.path.join(HERE, 'split.txt'))
        wanted = set(split.split(','))
        files = [f for f in files if roles.get(f) in wanted]
    return [os.path.join(folder, f) for f in files]


ANTIRING = []


def upscale(tconv, kernel, s, src, dst):
    k = kernel.replace('{s}', str(s))
    r = subprocess.run([tconv, 'upscale', '--kernel', k, '--stride', str(s), *ANTIRING, '-i', src, '-o', dst],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        return r.stderr.strip().splitlines()[-1] if r.stderr.strip() else 'exit %d' % r.returncode
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('folder')
    ap.add_argument('--tconv', default=os.environ.get('TCONV', os.path.join(ROOT, 'build', 'cli', 'tconv')))
    ap.add_argument('--split', default=None, help='roles from split.txt to use, e.g. heldout or val')
    ap.add_argument('--kernels', default=','.join(DEFAULT_KERNELS))
    ap.add_argument('--scales', default='2,3,4')
    ap.add_argument('--lr', default='bicubic,area', help='low-resolution kinds: bicubic, area')
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 1)
    ap.add_argument('--json', default=None, help='also write all per-image scores here')
    ap.add_argument('--digits', type=int, default=2, help='decimals of the PSNR means (default 2)')
    ap.add_argument('--antiring', default=None, help='pass --antiring A to tconv upscale')
    args = ap.parse_args()
    if args.antiring is not None:
        ANTIRING[:] = ['--antiring', args.antiring]

    images = pick_images(args.folder, args.split)
    if not images:
        sys.exit('no PNG images selected in %s' % args.folder)
    kernels = [k for k in args.kernels.split(',') if k]
    scales = [int(s) for s in args.scales.split(',')]
    kinds = args.lr.split(',')
    results = {}  # (kind, kernel, s) -> list of (psnr, ssim) or error text
    errors = {}

    # Presets come from this tree unless told otherwise.
    os.environ.setdefault('TCONV_PRESET_DIR', os.path.join(ROOT, 'presets'))
    with tempfile.TemporaryDirectory(prefix='tconv-quality-') as tmp:
        # A private copy of the binary: a rebuild during the run cannot change or break it.
        tconv = os.path.join(tmp, 'tconv')
        shutil.copy2(args.tconv, tconv)
        jobs = []
        hr_cache = {}
        for ii, path in enumerate(images):
            rgb = load_rgb(path)
            for s in scales:
                h, w = rgb.shape[0] // s * s, rgb.shape[1] // s * s
                hr = rgb[:h, :w]
                hr_cache[(ii, s)] = hr
                for kind in kinds:
                    lr_path = os.path.join(tmp, 'lr-%d-%d-%s.png' % (ii, s, kind))
                    Image.fromarray(make_lr(hr, s, kind)).save(lr_path)
                    for k in kernels:
                        out = os.path.join(tmp, 'sr-%d-%d-%s-%s.png' % (ii, s, kind, k.replace('/', '_')))
                        jobs.append((ii, s, kind, k, lr_path, out))

        def run(job):
            ii, s, kind, k, lr_path, out = job
            err = upscale(tconv, k, s, lr_path, out)
            if err:
                return job, err
            sr = load_rgb(out)
            hr = hr_cache[(ii, s)]
            if sr.shape != hr.shape:
                return job, 'output %s, expected %s' % (sr.shape, hr.shape)
            return job, score(hr, sr, s)

        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for job, res in pool.map(run, jobs):
                ii, s, kind, k = job[:4]
                if isinstance(res, str):
                    errors[(kind, k, s)] = res
                else:
                    results.setdefault((kind, k, s), [None] * len(images))[ii] = res

    names = [os.path.basename(p) for p in images]
    print('Images (%d): %s' % (len(names), ' '.join(names)))
    print('PSNR-Y (dB) / SSIM-Y, s pixels shaved, mean over the images')
    for kind in kinds:
        print('\nLow resolution: %s' % ('MATLAB bicubic (antialiased)' if kind == 'bicubic' else 'area (box) average'))
        head = '| kernel | ' + ' | '.join('x%d' % s for s in scales) + ' |'
        print(head)
        print('|---|' + '---|' * len(scales))
        for k in kernels:
            cells = []
            for s in scales:
                r = results.get((kind, k, s))
                if r is None or any(v is None for v in r):
                    cells.append('n/a')
                else:
                    cells.append('%.*f / %.4f' % (args.digits, np.mean([v[0] for v in r]), np.mean([v[1] for v in r])))
            print('| %s | %s |' % (k, ' | '.join(cells)))
    for (kind, k, s), e in sorted(errors.items()):
        print('# %s x%d (%s LR): %s' % (k, s, kind, e), file=sys.stderr)
    if args.json:
        import json
        with open(args.json, 'w') as f:
            json.dump({'images': names,
                       'scores': {'%s|%s|%d' % key: v for key, v in results.items()},
                       'errors': {'%s|%s|%d' % key: v for key, v in errors.items()}}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
