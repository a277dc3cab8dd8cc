#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes tests/data/degrade/*.npy: a fixed pseudo-random plane and its reductions computed by
the numpy reference (imresize.py), which tests/test-degrade.c compares with the C code.
Run from anywhere: /usr/bin/python3 tests/bench/make-degrade-fixtures.py"""
import os
import sys

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import imresize  # noqa: E402

out = os.path.join(here, '..', 'data', 'degrade')
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20240605)
# 36 x 48: divisible by 2, 3 and 4; smooth part plus noise plus a hard edge, so that both
# the interior weights and the mirrored borders matter.
yy, xx = np.mgrid[0:36, 0:48]
img = 0.5 + 0.3 * np.sin(xx / 3.0) * np.cos(yy / 5.0) + 0.2 * rng.standard_normal((36, 48))
img[:, 40:] += 0.7
img = img.astype(np.float32)
np.save(os.path.join(out, 'input.npy'), img)
for kind, factors in (('bicubic', (2, 3, 4)), ('area', (2, 3)), ('gauss', (2, 4))):
    for s in factors:
        np.save(os.path.join(out, '%s-x%d.npy' % (kind, s)),
                np.ascontiguousarray(imresize.reduce(img.astype(np.float64), s, kind)))
