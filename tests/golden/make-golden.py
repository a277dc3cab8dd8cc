#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the golden fixtures for `tconv apply` into tests/golden/cases/.

Run with Debian's python and torch (apt-get install python3-numpy python3-torch):
    /usr/bin/python3 tests/golden/make-golden.py
The reference is torch.nn.functional.conv_transpose2d itself. Every case draws its data from
a generator seeded with a CRC of the case's name, so the output is deterministic and a case does
not change when others are added or removed. The fixtures are committed: the test
(tests/cli/test-apply.py) needs only numpy.

Layout: cases/<name>/x.npy, w.npy, optional b.npy, y.npy (torch's output, float32, numpy.save)
and cases/manifest.json: a list of {name, args, y, shape, torch, desc}, where args is the
`tconv apply` argument list without `-o`, with paths relative to cases/.

x/w/b files are written by our own .npy writer below, some with unusual but valid headers
(version 2.0/3.0, other key order, extra spaces, no trailing comma, 16-byte padding,
big-endian descr), which numpy.save never produces; numpy.load reads them all back, which
this script checks.
"""
import json
import os
import random
import shutil
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")

# ---------------------------------------------------------------- .npy writer

# Header styles. Each is (version, key order, formatter, alignment, trailing comma).
STYLES = {
    "std":     dict(version=(1, 0), order=("descr", "fortran_order", "shape"), spaced=False, align=64, comma=True),
    "v2":      dict(version=(2, 0), order=("descr", "fortran_order", "shape"), spaced=False, align=64, comma=True),
    "v3":      dict(version=(3, 0), order=("descr", "fortran_order", "shape"), spaced=False, align=64, comma=True),
    "order":   dict(version=(1, 0), order=("shape", "fortran_order", "descr"), spaced=False, align=64, comma=True),
    "order2":  dict(version=(1, 0), order=("fortran_order", "shape", "descr"), spaced=False, align=64, comma=True),
    "spaces":  dict(version=(1, 0), order=("descr", "fortran_order", "shape"), spaced=True, align=64, comma=True),
    "nocomma": dict(version=(1, 0), order=("descr", "fortran_order", "shape"), spaced=False, align=64, comma=False),
    "pad16":   dict(version=(1, 0), order=("descr", "fortran_order", "shape"), spaced=False, align=16, comma=True),
    # Everything at once.
    "odd":     dict(version=(2, 0), order=("shape", "descr", "fortran_order"), spaced=True, align=16, comma=False),
    "odd3":    dict(version=(3, 0), order=("fortran_order", "descr", "shape"), spaced=True, align=16, comma=True),
}


def shape_repr(shape, spaced):
    if spaced:
        if len(shape) == 1:
            return "( %d , )" % shape[0]
        return "( " + " , ".join(str(d) for d in shape) + " )"
    if len(shape) == 1:
        return "(%d,)" % shape[0]
    return "(" + ", ".join(str(d) for d in shape) + ")"


def npy_bytes(arr, descr, style="std"):
    st = STYLES[style]
    arr = np.ascontiguousarray(arr, dtype=np.dtype(descr))
    vals = {"descr": repr(descr), "fortran_order": "False", "shape": shape_repr(arr.shape, st["spaced"])}
    if st["spaced"]:
        items = ["  '%s'  :   %s " % (k, vals[k]) for k in st["order"]]
        body = "{ " + ",".join(items) + (", }" if st["comma"] else " }")
    else:
        items = ["'%s': %s" % (k, vals[k]) for k in st["order"]]
        body = "{" + ", ".join(items) + (", }" if st["comma"] else "}")
    major, minor = st["version"]
    prefix = 10 if major == 1 else 12
    total = prefix + len(body) + 1
    pad = (-total) % st["align"]
    header = (body + " " * pad + "\n").encode("latin1" if major < 3 else "utf-8")
    lenfield = struct.pack("<H", len(header)) if major == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([major, minor]) + lenfield + header + arr.tobytes(order="C")


def write_npy(path, arr, descr, style):
    data = npy_bytes(arr, descr, style)
    with open(path, "wb") as f:
        f.write(data)
    back = np.load(path)  # the file must be a valid .npy that numpy reads back unchanged
    assert back.dtype == np.dtype(descr) and back.shape == arr.shape, path
    assert np.array_equal(back.astype(np.float64), np.asarray(arr, dtype=np.dtype(descr)).astype(np.float64)), path


# ---------------------------------------------------------------- cases

def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def out_size(n, k, s, p, d, o):
    return (n - 1) * s - 2 * p + d * (k - 1) + o + 1


CASES = []


def case(name, cin, h, w, cout, kh, kw=None, s=1, p=0, o=0, d=1, g=1, bias=True,
         xd="<f4", wd="<f4", bd="<f4", batched=False, xs="std", ws="std", bs="std",
         desc="", explicit=False):
    """cout is the total C_out (a multiple of g). explicit: also pass default-valued options."""
    kw = kh if kw is None else kw
    CASES.append(dict(name=name, cin=cin, h=h, w=w, cout=cout, kh=kh, kw=kw, s=pair(s), p=pair(p),
                      o=pair(o), d=pair(d), g=g, bias=bias, xd=xd, wd=wd, bd=bd, batched=batched,
                      xs=xs, ws=ws, bs=bs, desc=desc, explicit=explicit))


# Basics and strides (1-5, different per axis).
case("basic_k3", 2, 5, 6, 3, 3, desc="stride 1, 3x3, no padding")
case("basic_nobias", 2, 5, 6, 3, 3, bias=False, desc="no bias")
case("explicit_defaults", 2, 4, 4, 2, 3, explicit=True, desc="every option given at its default value")
case("s2_k3", 3, 5, 5, 2, 3, s=2)
case("s3_k3", 2, 4, 5, 3, 3, s=3)
case("s4_k4", 2, 4, 4, 2, 4, s=4)
case("s5_k5", 1, 3, 4, 2, 5, s=5)
case("s1x2", 2, 5, 5, 2, 3, s=(1, 2))
case("s2x1", 2, 5, 5, 2, 3, s=(2, 1))
case("s2x3", 2, 5, 4, 3, 4, s=(2, 3), p=(1, 1))
case("s3x5", 2, 4, 3, 2, 5, 3, s=(3, 5), p=(2, 0))
case("s5x1", 1, 3, 6, 2, 2, 4, s=(5, 1))
case("s4x2_o", 2, 4, 4, 2, 6, s=(4, 2), p=(1, 2), o=(3, 1), desc="output_padding s-1 per axis")
case("s5_k2", 2, 3, 3, 2, 2, s=5, desc="kernel smaller than stride: empty phases, bias only")
case("s3_k1", 2, 3, 4, 3, 1, s=3, o=2, desc="1x1 kernel with stride: bias-only rows and columns")

# Kernel sizes 1-12, non-square.
case("k1", 4, 5, 5, 3, 1, desc="1x1 kernel")
case("k1x5", 2, 5, 4, 2, 1, 5)
case("k7x2", 2, 4, 5, 2, 7, 2, s=2)
case("k12", 1, 3, 3, 2, 12, desc="12x12 kernel bigger than the input")
case("k12x1_s3", 2, 4, 4, 2, 12, 1, s=3, p=(4, 0))
case("k4x8_s2", 2, 5, 3, 2, 4, 8, s=2, p=(1, 3))
case("k11x3_d2", 1, 3, 5, 2, 11, 3, d=(1, 2), s=(2, 1))
case("k2x9", 3, 4, 2, 1, 2, 9, s=(1, 4), p=(0, 3))
case("k6_s3_o1", 2, 4, 4, 2, 6, s=3, p=2, o=1, desc="exact 3x upsampling geometry")

# Padding, including larger than d(k-1) (cuts into the stamp image).
case("p1_s2_k4", 2, 5, 5, 2, 4, s=2, p=1)
case("p_gt_dk", 2, 5, 5, 2, 3, s=3, p=3, desc="padding 3 > d(k-1) = 2")
case("p_gt_dk_axes", 2, 6, 4, 3, 3, 2, s=(3, 2), p=(4, 2), desc="padding (4,2) > d(k-1) = (2,1)")
case("p_huge_1x1out", 1, 1, 1, 2, 3, p=1, desc="output 1x1")
case("p_gt_dk_d3", 2, 6, 6, 2, 3, s=2, p=7, d=3, desc="padding 7 > d(k-1) = 6")
case("p_big_s4", 2, 5, 5, 2, 3, s=4, p=(6, 7), desc="padding well beyond d(k-1), output keeps interior")
case("p_asym", 2, 5, 6, 2, 5, s=2, p=(0, 3))

# Output padding up to max(s, d) - 1, including o >= s (legal because d > s), p < o and p >= o.
case("o1_s2_p0", 2, 4, 4, 2, 3, s=2, o=1, desc="p < o: last row/col bias only")
case("o1_s2_p1", 2, 4, 4, 2, 3, s=2, p=1, o=1, desc="p >= o: extra row/col holds data")
case("o2_s3_p1", 2, 4, 4, 2, 4, s=3, p=1, o=2, desc="p < o")
case("o4_s5_p4", 1, 3, 3, 2, 5, s=5, p=4, o=4)
case("o_ge_s_d2", 2, 5, 5, 2, 3, s=1, d=2, o=1, desc="o=1 >= s=1 legal since d=2")
case("o2_s2_d3", 2, 4, 4, 2, 3, s=2, d=3, o=2, desc="o=2 >= s=2 legal since d=3")
case("o2_s1_d3_p1", 2, 4, 4, 2, 3, s=1, d=3, p=1, o=2, desc="o=2 >= s=1 legal since d=3")
case("o_mixed", 2, 4, 5, 2, 3, s=(3, 1), d=(1, 3), o=(2, 2), p=(0, 1))

# Dilation 1-3.
case("d2", 2, 5, 5, 2, 3, d=2)
case("d3_s2", 2, 4, 4, 2, 3, s=2, d=3)
case("d2_s2", 2, 4, 4, 2, 3, s=2, d=2, desc="gcd(d,s)=2: whole phases empty")
case("d1x3", 2, 5, 5, 2, 3, d=(1, 3), s=(2, 1))
case("d3x2_s3", 2, 4, 4, 3, 2, 3, d=(3, 2), s=(3, 2), p=(1, 2))
case("d3_s3_k4", 1, 3, 3, 2, 4, d=3, s=3, p=2)

# Groups, depthwise, channel multipliers.
case("g2", 4, 4, 4, 6, 3, g=2, s=2)
case("g3_cout3", 6, 4, 4, 3, 3, g=3, s=(1, 2))
case("g2_nobias", 4, 4, 5, 4, 3, g=2, bias=False, d=2)
case("g_cin_dw", 4, 5, 5, 4, 3, g=4, s=2, p=1, o=1, desc="depthwise, C_out = C_in")
case("g_cin_m2", 3, 4, 4, 6, 4, g=3, s=2, p=1, desc="depthwise with channel multiplier 2")
case("g_cin_m3", 2, 4, 4, 6, 3, 2, g=2, s=(2, 3), desc="depthwise with channel multiplier 3")
case("g1_cin1", 1, 6, 6, 1, 4, g=1, s=2, p=1, desc="single channel")
case("g6_dw", 6, 3, 3, 6, 2, g=6, s=2, bias=False)
case("bilinear_x2", 3, 6, 6, 3, 4, g=3, s=2, p=1, desc="GIMP-style x2 depthwise upsample")
case("x4_k8", 3, 4, 4, 3, 8, g=3, s=4, p=2, desc="x4 depthwise upsample")
case("x3_k6", 3, 4, 4, 3, 6, g=3, s=3, p=2, o=1, desc="x3 depthwise upsample")

# float64 inputs (reference in float64, then cast to float32).
case("f64_x", 2, 5, 5, 3, 3, s=2, xd="<f8")
case("f64_w", 2, 5, 5, 3, 3, s=2, wd="<f8")
case("f64_all", 2, 4, 5, 4, 3, s=(2, 3), p=1, g=2, xd="<f8", wd="<f8", bd="<f8")
case("f64_b", 2, 4, 4, 2, 3, bd="<f8")
case("f64_xw_nobias", 3, 4, 4, 3, 5, s=3, d=2, g=3, xd="<f8", wd="<f8", bias=False)

# X given as (1, C, H, W).
case("batched", 2, 4, 4, 3, 3, s=2, batched=True)
case("batched_g", 4, 3, 5, 4, 2, g=4, s=(2, 3), batched=True, bias=False)
case("batched_f64", 2, 4, 4, 2, 3, d=2, batched=True, xd="<f8")

# Unusual but valid .npy headers.
case("hdr_v2", 2, 4, 4, 2, 3, s=2, xs="v2", ws="v2", bs="v2")
case("hdr_v3", 2, 4, 4, 2, 3, s=2, xs="v3", ws="v3", bs="v3")
case("hdr_order", 2, 4, 4, 2, 3, s=2, xs="order", ws="order2", bs="order")
case("hdr_spaces", 2, 4, 4, 2, 3, s=2, xs="spaces", ws="spaces", bs="spaces")
case("hdr_nocomma", 2, 4, 4, 2, 3, s=2, xs="nocomma", ws="nocomma", bs="nocomma")
case("hdr_pad16", 2, 4, 4, 2, 3, s=2, xs="pad16", ws="pad16", bs="pad16")
case("hdr_be_f4", 2, 4, 4, 2, 3, s=2, xd=">f4", wd=">f4", bd=">f4")
case("hdr_be_f8", 2, 4, 4, 2, 3, s=2, xd=">f8", wd=">f8", bd=">f8")
case("hdr_be_mixed", 2, 4, 4, 4, 3, s=2, g=2, xd=">f8", wd="<f4", bd=">f4", xs="v2", ws="pad16", bs="v3")
case("hdr_odd", 3, 4, 4, 3, 3, g=3, s=2, xs="odd", ws="odd3", bs="odd", xd=">f4", wd="<f8")
case("hdr_odd_batched", 2, 4, 3, 2, 3, s=(1, 2), batched=True, xs="odd3", ws="odd", bs="spaces")

# Random legal cases, fixed seed.
_rng = random.Random(20240601)
_n = 0
while _n < 15:
    cin = _rng.randint(1, 6)
    divs = [g for g in range(1, cin + 1) if cin % g == 0]
    g = _rng.choice(divs)
    cout = g * _rng.randint(1, max(1, 6 // g))
    kh, kw = _rng.randint(1, 12), _rng.randint(1, 12)
    s = (_rng.randint(1, 5), _rng.randint(1, 5))
    d = (_rng.randint(1, 3), _rng.randint(1, 3))
    o = tuple(_rng.randint(0, max(si, di) - 1) for si, di in zip(s, d))
    h, w = _rng.randint(1, 9), _rng.randint(1, 9)
    p = tuple(_rng.randint(0, di * (ki - 1) + 2) for di, ki in zip(d, (kh, kw)))
    ho, wo = out_size(h, kh, s[0], p[0], d[0], o[0]), out_size(w, kw, s[1], p[1], d[1], o[1])
    if ho < 1 or wo < 1 or cout * ho * wo > 12000:
        continue
    case("rand%02d" % _n, cin, h, w, cout, kh, kw, s=s, p=p, o=o, d=d, g=g, bias=_rng.random() < 0.7,
         xd=_rng.choice(["<f4", "<f4", "<f8"]), desc="random")
    _n += 1


def scatter_reference(x, w, b, s, p, o, d, g):
    """The definition (notes section 1), independent of torch: each input pixel stamps the kernel."""
    cin, h, wd = x.shape
    coutg, kh, kw = w.shape[1:]
    ho = out_size(h, kh, s[0], p[0], d[0], o[0])
    wo = out_size(wd, kw, s[1], p[1], d[1], o[1])
    full = np.zeros((coutg * g, (h - 1) * s[0] + d[0] * (kh - 1) + 1 + ho,
                     (wd - 1) * s[1] + d[1] * (kw - 1) + 1 + wo))
    cing = cin // g
    for ci in range(cin):
        gi = ci // cing
        for ky in range(kh):
            for kx in range(kw):
                oy, ox = ky * d[0], kx * d[1]
                full[gi * coutg:(gi + 1) * coutg, oy:oy + (h - 1) * s[0] + 1:s[0],
                     ox:ox + (wd - 1) * s[1] + 1:s[1]] += w[ci, :, ky, kx, None, None] * x[ci][None]
    y = full[:, p[0]:p[0] + ho, p[1]:p[1] + wo]
    return y + (b[:, None, None] if b is not None else 0)


def fmt_pair(v):
    return str(v[0]) if v[0] == v[1] else "%d,%d" % v


def main():
    assert not os.path.exists(OUT) or os.path.isdir(OUT)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    torch.set_num_threads(1)
    manifest = []
    names = set()
    for c in CASES:
        name = c["name"]
        assert name not in names, name
        names.add(name)
        assert c["cin"] % c["g"] == 0 and c["cout"] % c["g"] == 0, name
        for si, di, oi in zip(c["s"], c["d"], c["o"]):
            assert 0 <= oi < max(si, di), name
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        x = rng.standard_normal((c["cin"], c["h"], c["w"]))
        w = rng.standard_normal((c["cin"], c["cout"] // c["g"], c["kh"], c["kw"]))
        b = rng.standard_normal((c["cout"],)) if c["bias"] else None
        # The values the CLI sees: rounded to the stored dtype.
        xv = x.astype(np.dtype(c["xd"]))
        wv = w.astype(np.dtype(c["wd"]))
        bv = b.astype(np.dtype(c["bd"])) if b is not None else None
        any64 = any(np.dtype(t).itemsize == 8 for t in
                    [c["xd"], c["wd"]] + ([c["bd"]] if b is not None else []))
        tdt = torch.float64 if any64 else torch.float32
        tx = torch.from_numpy(xv.astype(np.float64)).to(tdt).unsqueeze(0)
        tw = torch.from_numpy(wv.astype(np.float64)).to(tdt)
        tb = torch.from_numpy(bv.astype(np.float64)).to(tdt) if bv is not None else None
        y = F.conv_transpose2d(tx, tw, tb, stride=c["s"], padding=c["p"], output_padding=c["o"],
                               groups=c["g"], dilation=c["d"])[0]
        y = y.to(torch.float32).numpy()
        eh = out_size(c["h"], c["kh"], c["s"][0], c["p"][0], c["d"][0], c["o"][0])
        ew = out_size(c["w"], c["kw"], c["s"][1], c["p"][1], c["d"][1], c["o"][1])
        assert y.shape == (c["cout"], eh, ew), (name, y.shape)
        ref = scatter_reference(xv.astype(np.float64), wv.astype(np.float64),
                                bv.astype(np.float64) if bv is not None else None,
                                c["s"], c["p"], c["o"], c["d"], c["g"])
        assert np.abs(ref - y).max() <= 1e-5 + 1e-5 * np.abs(ref).max(), (name, "torch != definition")

        d = os.path.join(OUT, name)
        os.makedirs(d)
        xs = xv.reshape((1,) + xv.shape) if c["batched"] else xv
        write_npy(os.path.join(d, "x.npy"), xs, c["xd"], c["xs"])
        write_npy(os.path.join(d, "w.npy"), wv, c["wd"], c["ws"])
        args = ["-i", name + "/x.npy", "-w", name + "/w.npy"]
        if bv is not None:
            write_npy(os.path.join(d, "b.npy"), bv, c["bd"], c["bs"])
            args += ["-b", name + "/b.npy"]
        np.save(os.path.join(d, "y.npy"), np.ascontiguousarray(y, dtype="<f4"))
        for opt, key, default in (("--stride", "s", (1, 1)), ("--padding", "p", (0, 0)),
                                  ("--output-padding", "o", (0, 0)), ("--dilation", "d", (1, 1))):
            if c[key] != default or c["explicit"]:
                args += [opt, fmt_pair(c[key])]
        if c["g"] != 1 or c["explicit"]:
            args += ["--groups", str(c["g"])]
        tags = []
        if c["batched"]:
            tags.append("x (1,C,H,W)")
        for t, dt, style in (("x", c["xd"], c["xs"]), ("w", c["wd"], c["ws"]), ("b", c["bd"], c["bs"])):
            if t == "b" and bv is None:
                continue
            if dt != "<f4":
                tags.append("%s %s" % (t, dt))
            if style != "std":
                tags.append("%s hdr %s" % (t, style))
        desc = "; ".join(filter(None, [c["desc"]] + tags))
        manifest.append(dict(name=name, args=args, y=name + "/y.npy", shape=list(y.shape), desc=desc))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(dict(generator="tests/golden/make-golden.py", torch=torch.__version__,
                       reference="torch.nn.functional.conv_transpose2d", cases=manifest),
                  f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(r, fn)) for r, _, fs in os.walk(OUT) for fn in fs)
    print("%d cases, %d bytes in %s" % (len(manifest), total, OUT))


if __name__ == "__main__":
    sys.exit(main())
