#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""tconv matrix: the seed example is printed correctly and readably; options are bounded.

The expected convolution matrix is built here from the definition of a strided convolution
(row = output pixel, column = input pixel), independently of the C code."""
import os
import shlex
import re
import subprocess
import sys

TCONV = os.environ.get("TCONV")
# A command put before tconv, e.g. valgrind (set by tests/run-all.sh).
WRAP = shlex.split(os.environ.get("TCONV_WRAPPER", ""))
if not TCONV:
    sys.exit("test-matrix.py: set TCONV to the tconv binary")

n_tests = 0
failed = 0


def check(cond, desc):
    global n_tests, failed
    n_tests += 1
    if not cond:
        failed += 1
    print(("ok" if cond else "not ok") + f" {n_tests} - {desc}", flush=True)


def run(*args):
    return subprocess.run(WRAP + [TCONV, "matrix", *args], capture_output=True, text=True,
                          timeout=30 * (10 if WRAP else 1))


def conv_matrix(n, k, s, p, w):
    m = (n + 2 * p - k) // s + 1
    rows = []
    for oy in range(m):
        for ox in range(m):
            row = [0.0] * (n * n)
            for ky in range(k):
                for kx in range(k):
                    y, x = oy * s - p + ky, ox * s - p + kx
                    if 0 <= y < n and 0 <= x < n:
                        row[y * n + x] += w[ky * k + kx]
            rows.append(row)
    return rows


def grids(text):
    """Every bracketed row, as lists of floats, in order."""
    return [[float(v) for v in line.strip()[1:-1].split()]
            for line in text.splitlines() if line.strip().startswith("[")]


def check_case(args, n, k, s, p, w=None, x=None):
    r = run(*args)
    check(r.returncode == 0, f"tconv matrix {' '.join(args)} exits 0 ({r.stderr.strip()})")
    if r.returncode != 0:
        return
    w = w or [float(i + 1) for i in range(k * k)]
    m = (n + 2 * p - k) // s + 1
    x = x or [float(i + 1) for i in range(m * m)]
    c = conv_matrix(n, k, s, p, w)
    rows = grids(r.stdout)
    # order printed: kernel (k rows), C (m*m rows), C^T (n*n rows), x (m rows), C^T x (n), tconv (n)
    kern = rows[:k]
    cm = rows[k:k + m * m]
    ct = rows[k + m * m:k + m * m + n * n]
    cx = rows[k + m * m + n * n + m:k + m * m + n * n + m + n]
    tc = rows[k + m * m + n * n + m + n:]
    check(kern == [w[i * k:(i + 1) * k] for i in range(k)], "kernel printed")
    check(cm == c, f"C is the {m*m}x{n*n} strided-convolution matrix")
    check(ct == [list(col) for col in zip(*c)], "C^T is its transpose")
    want = [sum(c[r][q] * x[r] for r in range(m * m)) for q in range(n * n)]
    flat = [v for row in cx for v in row]
    check(flat == want, "C^T x printed as an n x n grid")
    check([v for row in tc for v in row] == want, "transposed convolution equals C^T x")
    check("equals the transposed convolution" in r.stdout, "the conclusion is stated")


# The seed example: 3x3 kernel over a 4x4 input, stride 1, no padding -> C is 4x16.
r = run()
check("Convolution matrix C (4 x 16)" in r.stdout, "default is the seed example (C is 4 x 16)")
check("Transpose C^T (16 x 4)" in r.stdout, "prints the 16 x 4 transpose")
check_case([], 4, 3, 1, 0)
check_case(["--size", "5", "--kernel", "3", "--stride", "2", "--padding", "1"], 5, 3, 2, 1)
check_case(["--size", "6", "--kernel", "4", "--stride", "2", "--weights",
            ",".join(str(v) for v in [1, -1, 0.5, 2] * 4)], 6, 4, 2, 0,
           w=[1, -1, 0.5, 2] * 4)
check_case(["--size", "3", "--kernel", "2", "--input", "1,0,0,2"], 3, 2, 1, 0, x=[1, 0, 0, 2])

# Bounds: each gives a clear error naming the value, exit 2.
for args, needle in [
    (["--size", "9"], "--size '9'"),
    (["--size", "0"], "--size '0'"),
    (["--stride", "5"], "--stride '5'"),
    (["--padding", "3"], "--padding '3'"),
    (["--kernel", "5"], "--kernel '5'"),
    (["--kernel", "x"], "expected an integer"),
    (["--weights", "1,2"], "2 values given, expected 9"),
    (["--weights", "1,2,3,4,5,6,7,8,nan"], "finite number"),
    (["--input", "1,2,3"], "3 values given, expected 4"),
    (["--bogus"], "Unknown option"),
    (["extra"], "unexpected argument"),
]:
    r = run(*args)
    check(r.returncode == 2 and needle in r.stderr and r.stdout == "",
          f"matrix {' '.join(args)}: exit 2, '{needle}' ({r.returncode}: {r.stderr.strip()})")

print(f"1..{n_tests}")
sys.exit(1 if failed else 0)
