# SPDX-License-Identifier: GPL-3.0-or-later
"""MATLAB imresize (down-scaling by an integer factor, antialiasing on) in numpy.

Written from imresize.m's documented algorithm, independently of core/tconv-degrade.c, so
that each checks the other (tests/test-degrade.c compares the C code with fixtures made
here). 1-based indices as in MATLAB: output x (1..n/s) sits at
u = x / scale + 0.5 (1 - 1 / scale); its taps are left = floor(u - width / 2) plus
0 .. ceil(width) + 1, weighted by h(u - i) = scale * kernel(scale * (u - i)), normalised to
sum 1, with out-of-range indices mirrored through aux = [1:n, n:-1:1]. Dimension 1 (rows)
is resized first, as imresize does for equal scales. Computes in double, as MATLAB does for
double input (for uint8 input MATLAB also rounds between the two passes, a difference of
at most one level).
"""
import numpy as np


def cubic(x):
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


def box(x):
    return ((x >= -0.5) & (x < 0.5)).astype(float)


def contributions(in_len, out_len, scale, kernel, kernel_width, antialias=True):
    """Weights (out_len x P) and 0-based input indices, as imresize.m's contributions()."""
    if scale < 1 and antialias:
        h = lambda x: scale * kernel(scale * x)
        kernel_width = kernel_width / scale
    else:
        h = kernel
    x = np.arange(1, out_len + 1, dtype=float)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    p = int(np.ceil(kernel_width)) + 2
    ind = left[:, None] + np.arange(p)[None, :]
    w = h(u[:, None] - ind)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    ind = aux[np.mod(ind - 1, aux.size).astype(int)]
    keep = np.any(w != 0, axis=0)
    return w[:, keep], ind[:, keep] - 1


def gauss_contributions(in_len, out_len, s, sigma_lr):
    """The Gaussian degradation of tconv (not a MATLAB method): imresize's centres, window
    and mirroring, with exp(-d^2 / 2 (sigma s)^2) for |d| <= 4 sigma s as the filter."""
    sig = sigma_lr * s
    g = lambda d: np.exp(-0.5 * (d / sig) ** 2) * (np.abs(d) <= 4.0 * sig)
    width = 8.0 * sig
    x = np.arange(1, out_len + 1, dtype=float)
    u = x * s + 0.5 * (1 - s)
    left = np.floor(u - width / 2)
    ind = left[:, None] + np.arange(int(np.ceil(width)) + 2)[None, :]
    w = g(u[:, None] - ind)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(1, in_len + 1), np.arange(in_len, 0, -1)])
    return w, aux[np.mod(ind - 1, aux.size).astype(int)] - 1


def resize_axis(a, axis, w, ind):
    a = np.moveaxis(a, axis, 0)
    out = np.einsum('op,op...->o...', w, a[ind])
    return np.moveaxis(out, 0, axis)


def reduce(img, s, kind='bicubic', sigma=0.5):
    """img: float array (H, W) or (H, W, C) with H, W multiples of s; returns (H/s, W/s[, C])
    in double, unclamped."""
    img = np.asarray(img, dtype=np.float64)
    h, w = img.shape[:2]
    assert h % s == 0 and w % s == 0, 'crop to a multiple of the factor first'
    out = img
    for axis, n in ((0, h), (1, w)):
        if kind == 'bicubic':
            wt, ind = contributions(n, n // s, 1.0 / s, cubic, 4.0)
        elif kind == 'area':
            wt, ind = contributions(n, n // s, 1.0 / s, box, 1.0)
        elif kind == 'gauss':
            wt, ind = gauss_contributions(n, n // s, s, sigma)
        else:
            raise ValueError(kind)
        out = resize_axis(out, axis, wt, ind)
    return out


def reduce_u8(img_u8, s, kind='bicubic'):
    """uint8 in, uint8 out (rounded and clamped as imresize returns uint8 images)."""
    out = reduce(img_u8.astype(np.float64), s, kind)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
