#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Step-edge overshoot (halos) of tconv's kernels, with and without --antiring.

For grey steps (60 -> 190 and 20 -> 235, 8-bit), vertical, horizontal and diagonal,
made at low resolution and enlarged x2, x3 and x4 by `tconv upscale`, prints the largest
excursion beyond the step's two levels, in levels of 255 (the worst of the three directions).
Usage: /usr/bin/python3 tests/bench/overshoot.py [--kernels a,b] [--antiring 0,0.5,1]
"""
import argparse
import os
import shutil
import subprocess
import tempfile

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')


def steps(lo, hi, n=48):
    y, x = np.mgrid[0:n, 0:n]
    return {'vertical': np.where(x < n // 2, lo, hi), 'horizontal': np.where(y < n // 2, lo, hi),
            'diagonal': np.where(x + y < n, lo, hi)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tconv', default=os.path.join(ROOT, 'build', 'cli', 'tconv'))
    ap.add_argument('--kernels', default='bicubic,lanczos3,learned,adaptive')
    ap.add_argument('--antiring', default='0,0.25,0.5,0.75,1')
    args = ap.parse_args()
    env = dict(os.environ, TCONV_PRESET_DIR=os.path.join(ROOT, 'presets'))
    amounts = args.antiring.split(',')
    with tempfile.TemporaryDirectory(prefix='tconv-overshoot-') as tmp:
        # a private copy: a rebuild during the run cannot change or break it
        tconv = os.path.join(tmp, 'tconv')
        shutil.copy2(args.tconv, tconv)
        # (a 0 -> 255 step cannot show overshoot in an 8-bit file: it is clipped)
        for lo, hi in ((60, 190), (20, 235)):
            print('\nStep %d -> %d: overshoot in levels (worst of vertical, horizontal, diagonal)'
                  % (lo, hi))
            print('| kernel | --antiring | x2 | x3 | x4 |')
            print('|---|---|---|---|---|')
            imgs = steps(lo, hi)
            for k in args.kernels.split(','):
                for a in amounts:
                    cells = []
                    for s in (2, 3, 4):
                        worst = 0.0
                        for name, im in imgs.items():
                            src = os.path.join(tmp, 'in.png')
                            out = os.path.join(tmp, 'out.png')
                            Image.fromarray(im.astype(np.uint8)).save(src)
                            r = subprocess.run([tconv, 'upscale', '--kernel', k, '--stride', str(s),
                                                '--antiring', a, '-i', src, '-o', out],
                                               capture_output=True, text=True, env=env)
                            if r.returncode != 0:
                                raise SystemExit(r.stderr)
                            o = np.array(Image.open(out)).astype(float)
                            m = 2 * s  # away from the image border
                            o = o[m:-m, m:-m]
                            worst = max(worst, float(np.max(o - hi)), float(np.max(lo - o)))
                        cells.append('%.0f' % max(worst, 0.0))
                    print('| %s | %s | %s |' % (k, a, ' | '.join(cells)))


if __name__ == '__main__':
    main()
