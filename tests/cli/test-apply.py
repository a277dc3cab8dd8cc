#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""tconv apply: matches torch's conv_transpose2d on the golden fixtures, and fails cleanly.

Needs only numpy. The fixtures in tests/golden/cases/ come from tests/golden/make-golden.py (torch).
Part 1: every golden case runs `$TCONV apply ...` into a fresh temp dir and must produce exactly
the reference shape and values within 1e-5 + 1e-4*max|ref|, as a valid float32 little-endian
C-order .npy v1.0 file, and nothing else in the output directory.
Part 2: an error-path catalogue. Each case must exit with status 1 or 2 (not a signal), print a
message on stderr, create no output file and no temp file, and leave every input byte-identical.
Prints TAP; exits 0 only if everything passed.
"""
import ast
import hashlib
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.normpath(os.path.join(HERE, "..", "golden", "cases"))

TCONV = os.environ.get("TCONV")
# A command put before tconv, e.g. valgrind (set by tests/run-all.sh).
WRAP = shlex.split(os.environ.get("TCONV_WRAPPER", ""))
if not TCONV:
    print("Bail out! test-apply.py: set the TCONV environment variable to the tconv binary")
    sys.exit("test-apply.py: TCONV is not set (e.g. TCONV=build/cli/tconv)")
TCONV = os.path.abspath(TCONV)
if not os.access(TCONV, os.X_OK):
    print("Bail out! test-apply.py: TCONV=%s is not an executable file" % TCONV)
    sys.exit(2)

results = []


def check(cond, desc):
    results.append(bool(cond))
    print(("ok" if cond else "not ok") + " %d - %s" % (len(results), desc), flush=True)


def run(args, cwd=None):
    try:
        r = subprocess.run(WRAP + [TCONV, "apply"] + list(args), cwd=cwd, capture_output=True,
                           timeout=20 * (10 if WRAP else 1))
    except subprocess.TimeoutExpired:
        return None
    return r


# ---------------------------------------------------------------- tiny .npy writer

def npy(data=b"", descr="'<f4'", shape="(2, 3)", fortran="False", version=(1, 0), header=None,
        align=64, hlen=None, magic=b"\x93NUMPY"):
    """Raw .npy bytes. descr/shape/fortran are the literal header texts; header replaces the whole
    dict text; hlen overrides the length field; data is appended as is."""
    if header is None:
        header = "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    prefix = 10 if version[0] == 1 else 12
    pad = (-(prefix + len(header) + 1)) % align
    hb = (header + " " * pad + "\n").encode("utf-8")
    n = len(hb) if hlen is None else hlen
    lf = struct.pack("<H", n) if version[0] == 1 else struct.pack("<I", n)
    return magic + bytes(version) + lf + hb + data


def f32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("<f4")


def arr_npy(a, descr="'<f4'"):
    a = np.ascontiguousarray(a, dtype=eval(descr))
    shape = "(%d,)" % a.shape[0] if a.ndim == 1 else "(" + ", ".join(map(str, a.shape)) + ")"
    return npy(a.tobytes(), descr=descr, shape=shape)


# ---------------------------------------------------------------- part 1: golden cases

def read_output(path):
    """Strict parse of the CLI's output: v1.0, '<f4', C order. Returns (array, header_total, problem)."""
    raw = open(path, "rb").read()
    if raw[:6] != b"\x93NUMPY":
        return None, 0, "bad magic"
    if raw[6:8] != b"\x01\x00":
        return None, 0, "version %d.%d, expected 1.0" % (raw[6], raw[7])
    hl = struct.unpack("<H", raw[8:10])[0]
    text = raw[10:10 + hl].decode("latin1")
    try:
        hd = ast.literal_eval(text)  # as numpy's own reader does
    except Exception as e:  # noqa: BLE001
        return None, 0, "header does not parse: %r (%s)" % (text, e)
    if not text.endswith("\n"):
        return None, 0, "header does not end with a newline"
    if not isinstance(hd, dict) or set(hd) != {"descr", "fortran_order", "shape"}:
        return None, 0, "header keys %r" % (hd,)
    if hd["descr"] != "<f4" or hd["fortran_order"] is not False:
        return None, 0, "descr %r fortran_order %r" % (hd["descr"], hd["fortran_order"])
    shape = tuple(hd["shape"])
    n = int(np.prod(shape)) * 4
    data = raw[10 + hl:]
    if len(data) != n:
        return None, 0, "data is %d bytes, shape %r needs %d" % (len(data), shape, n)
    a = np.frombuffer(data, dtype="<f4").reshape(shape)
    b = np.load(path)  # numpy must agree
    if b.shape != shape or not np.array_equal(a, b, equal_nan=True):
        return None, 0, "numpy.load reads it differently"
    return a, 10 + hl, None


def golden():
    with open(os.path.join(CASES, "manifest.json")) as f:
        manifest = json.load(f)["cases"]
    aligned = []
    for c in manifest:
        tmp = tempfile.mkdtemp(prefix="tconv-apply-")
        try:
            out = os.path.join(tmp, "y.npy")
            args = c["args"] + ["-o", out]
            cmd = "tconv apply " + " ".join(args)
            r = run(args, cwd=CASES)
            desc = "golden %s (%s)" % (c["name"], c["desc"] or "plain")
            if r is None:
                check(False, desc + ": timed out: " + cmd)
                continue
            if r.returncode != 0:
                check(False, "%s: exit %d: %s [%s]" % (desc, r.returncode,
                                                     r.stderr.decode(errors="replace").strip(), cmd))
                continue
            left = sorted(os.listdir(tmp))
            if left != ["y.npy"]:
                check(False, "%s: output directory holds %r [%s]" % (desc, left, cmd))
                continue
            y, htotal, problem = read_output(out)
            if problem:
                check(False, "%s: bad output file: %s [%s]" % (desc, problem, cmd))
                continue
            aligned.append(htotal % 64 == 0)
            ref = np.load(os.path.join(CASES, c["y"]))
            if list(y.shape) != c["shape"] or y.shape != ref.shape:
                check(False, "%s: shape %r, expected %r [%s]" % (desc, y.shape, tuple(c["shape"]), cmd))
                continue
            err = float(np.max(np.abs(y.astype(np.float64) - ref))) if y.size else 0.0
            if not np.all(np.isfinite(y)):
                err = float("inf")
            tol = 1e-5 + 1e-4 * float(np.max(np.abs(ref)))
            check(err <= tol, "%s: max|y-ref| = %.3g (tol %.3g)%s" % (desc, err, tol,
                                                                     "" if err <= tol else " [%s]" % cmd))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    check(aligned and all(aligned), "output headers are padded to a multiple of 64 bytes, as numpy writes them")


# ---------------------------------------------------------------- part 2: error paths

GOOD_X = arr_npy(f32(2, 5, 5, seed=1))        # C_in = 2
GOOD_W = arr_npy(f32(2, 3, 3, 3, seed=2))     # C_out = 3 with groups 1
GOOD_B = arr_npy(f32(3, seed=3))


def snapshot(d):
    snap = {}
    for root, dirs, files in os.walk(d):
        for fn in files + [x for x in dirs if os.path.islink(os.path.join(root, x))]:
            p = os.path.join(root, fn)
            rel = os.path.relpath(p, d)
            snap[rel] = hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.isfile(p) else "dir"
        for x in dirs:
            snap.setdefault(os.path.relpath(os.path.join(root, x), d) + "/", "dir")
    return snap


def err_case(desc, x=GOOD_X, w=GOOD_W, b=GOOD_B, opts=(), files=None, argv=None):
    """Runs one failing invocation in a fresh directory `in/` (inputs) + `out/` (output dir).
    x, w, b: bytes for in/x.npy etc. (None: not passed). files: extra {name: bytes} in in/.
    argv: a function (indir, outdir) -> argument list that replaces the default one."""
    top = tempfile.mkdtemp(prefix="tconv-err-")
    try:
        ind, outd = os.path.join(top, "in"), os.path.join(top, "out")
        os.mkdir(ind)
        os.mkdir(outd)
        for name, data in [("x.npy", x), ("w.npy", w), ("b.npy", b)] + list((files or {}).items()):
            if data is not None:
                with open(os.path.join(ind, name), "wb") as f:
                    f.write(data)
        if argv is not None:
            args = argv(ind, outd)
        else:
            args = []
            if x is not None:
                args += ["-i", os.path.join(ind, "x.npy")]
            if w is not None:
                args += ["-w", os.path.join(ind, "w.npy")]
            if b is not None:
                args += ["-b", os.path.join(ind, "b.npy")]
            args += list(opts) + ["-o", os.path.join(outd, "y.npy")]
        before = snapshot(ind)
        r = run(args, cwd=outd)
        cmd = "tconv apply " + " ".join(a.replace(top, "T") for a in args)
        problems = []
        if r is None:
            problems.append("timed out")
        else:
            if r.returncode < 0:
                problems.append("killed by signal %d" % -r.returncode)
            elif r.returncode not in (1, 2):
                problems.append("exit status %d, expected 1 or 2" % r.returncode)
            if not r.stderr.strip():
                problems.append("empty stderr")
        left = os.listdir(outd)
        if left:
            problems.append("output dir holds %r" % sorted(left))
        after = snapshot(ind)
        if after != before:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            problems.append("input dir changed: %r" % changed)
        msg = ""
        if r is not None and r.stderr.strip():
            msg = r.stderr.decode(errors="replace").strip().splitlines()[0][:150]
        if problems:
            check(False, "error: %s: %s [%s] stderr: %s" % (desc, "; ".join(problems), cmd, msg))
        else:
            check(True, "error: %s: exit %d: %s" % (desc, r.returncode, msg))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def errors():
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5, 5), }"
    xdata = f32(2, 5, 5, seed=1).tobytes()

    # Command line.
    err_case("missing -i", argv=lambda i, o: ["-w", i + "/w.npy", "-o", o + "/y.npy"])
    err_case("missing -w", argv=lambda i, o: ["-i", i + "/x.npy", "-o", o + "/y.npy"])
    err_case("missing -o", argv=lambda i, o: ["-i", i + "/x.npy", "-w", i + "/w.npy"])
    err_case("no arguments at all", argv=lambda i, o: [])
    err_case("unknown option --frobnicate", opts=["--frobnicate", "3"])
    err_case("unexpected positional argument", opts=["extra.npy"])
    err_case("nonexistent input file", argv=lambda i, o: ["-i", i + "/nope.npy", "-w", i + "/w.npy",
                                                           "-o", o + "/y.npy"])
    err_case("nonexistent bias file", argv=lambda i, o: ["-i", i + "/x.npy", "-w", i + "/w.npy",
                                                          "-b", i + "/nope.npy", "-o", o + "/y.npy"])
    err_case("directory as input", files={}, argv=lambda i, o: (os.mkdir(i + "/d.npy"), [
        "-i", i + "/d.npy", "-w", i + "/w.npy", "-o", o + "/y.npy"])[1])
    err_case("directory as weight", argv=lambda i, o: ["-i", i + "/x.npy", "-w", i, "-o", o + "/y.npy"])

    # .npy container.
    err_case("empty input file", x=b"")
    err_case("bad magic", x=npy(xdata, header=hdr, magic=b"\x93NUMPZ"))
    err_case("bad magic (plain text file)", x=b"hello, this is not an npy file at all\n" * 4)
    err_case("version 4.0", x=npy(xdata, header=hdr, version=(4, 0)))
    err_case("version 1.1", x=npy(xdata, header=hdr, version=(1, 1)))
    err_case("truncated header (file ends inside it)", x=npy(xdata, header=hdr)[:40])
    err_case("truncated before the header length", x=b"\x93NUMPY\x01\x00\x76")
    err_case("header length field beyond end of file", x=npy(b"", header=hdr, hlen=60000))
    err_case("header length > 10000 (v2, valid dict padded)",
             x=npy(xdata, header=hdr + " " * 20000, version=(2, 0)))
    err_case("header length 4 GiB-1 (v2)", x=npy(xdata, header=hdr, version=(2, 0), hlen=0xFFFFFFFF))
    err_case("header not a dict (a list)", x=npy(xdata, header="['<f4', False, (2, 5, 5)]"))
    err_case("header not a dict (garbage)", x=npy(xdata, header="descr=<f4 shape=2,5,5"))
    err_case("header dict followed by garbage", x=npy(xdata, header=hdr + " xyz"))
    err_case("header dict not closed", x=npy(xdata, header=hdr[:-1]))
    err_case("missing key 'shape'", x=npy(xdata, header="{'descr': '<f4', 'fortran_order': False, }"))
    err_case("missing key 'descr'", x=npy(xdata, header="{'fortran_order': False, 'shape': (2, 5, 5), }"))
    err_case("missing key 'fortran_order'", x=npy(xdata, header="{'descr': '<f4', 'shape': (2, 5, 5), }"))
    err_case("duplicate key 'shape'",
             x=npy(xdata, header="{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5, 5), 'shape': (2, 5, 5), }"))
    err_case("unknown key 'extra'",
             x=npy(xdata, header="{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5, 5), 'extra': 1, }"))
    err_case("fortran_order not a bool ('no')", x=npy(xdata, fortran="'no'", shape="(2, 5, 5)"))
    err_case("shape is a list, not a tuple", x=npy(xdata, shape="[2, 5, 5]"))
    err_case("shape element not an integer (2.0)", x=npy(xdata, shape="(2.0, 5, 5)"))
    err_case("unterminated string in header", x=npy(xdata, header="{'descr': '<f4, 'fortran_order': False, 'shape': (2, 5, 5), }"))
    for descr, data in (("'<i4'", np.zeros(50, "<i4").tobytes()), ("'<f2'", np.zeros(50, "<f2").tobytes()),
                        ("'|u1'", bytes(50)), ("'<U5'", bytes(50 * 20)), ("'O'", bytes(50 * 8)),
                        ("'<c8'", bytes(50 * 8)), ("'<i8'", bytes(50 * 8)), ("'>i2'", bytes(50 * 2))):
        err_case("dtype %s" % descr, x=npy(data, descr=descr, shape="(2, 5, 5)"))
    err_case("dtype '<i4' for the weight", w=npy(np.zeros(54, "<i4").tobytes(), descr="'<i4'", shape="(2, 3, 3, 3)"))
    err_case("fortran_order True (3-D input)", x=npy(xdata, fortran="True", shape="(2, 5, 5)"))
    err_case("fortran_order True (4-D weight)",
             w=npy(f32(2, 3, 3, 3).tobytes(), fortran="True", shape="(2, 3, 3, 3)"))
    err_case("negative dimension in shape", x=npy(xdata, shape="(2, -5, 5)"))
    err_case("shape overflows size_t: (2**62, 2**62, 2)", x=npy(xdata, shape="(%d, %d, 2)" % (2**62, 2**62)))
    err_case("shape element beyond 64 bits: (2**70, 1, 1)", x=npy(xdata, shape="(%d, 1, 1)" % 2**70))
    err_case("huge shape, tiny payload: (2, 2**31, 2**31)", x=npy(xdata, shape="(2, %d, %d)" % (2**31, 2**31)))
    err_case("weight shape overflowing in bytes: (2, 2**62, 1, 1)",
             w=npy(f32(54).tobytes(), shape="(2, %d, 1, 1)" % 2**62))
    err_case("truncated data (input)", x=npy(xdata[:-4], header=hdr))
    err_case("truncated data (bias, <f8)", b=npy(np.zeros(2, "<f8").tobytes(), descr="'<f8'", shape="(3,)"))
    err_case("extra trailing data", x=npy(xdata + b"\0\0\0\0", header=hdr))

    # Shapes and parameters, in PyTorch's rules.
    err_case("input 2-D", x=arr_npy(f32(5, 5)))
    err_case("input 5-D", x=arr_npy(f32(1, 1, 2, 5, 5)))
    err_case("input batch N=2", x=arr_npy(f32(2, 2, 5, 5)))
    err_case("input 1-D", x=arr_npy(f32(5)))
    err_case("weight 3-D", w=arr_npy(f32(2, 3, 3)))
    err_case("weight 5-D", w=arr_npy(f32(2, 3, 3, 3, 1)))
    err_case("weight dim0 != C_in", w=arr_npy(f32(3, 3, 3, 3)))
    err_case("C_in % groups != 0 (C_in 2, groups 3)", w=arr_npy(f32(2, 1, 3, 3)), b=None, opts=["--groups", "3"])
    err_case("groups > C_in (C_in 2, groups 4)", w=arr_npy(f32(2, 1, 3, 3)), b=None, opts=["--groups", "4"])
    err_case("bias wrong length", b=arr_npy(f32(4)))
    err_case("bias wrong length for groups (needs C_out 6)", opts=["--groups", "2"],
             x=arr_npy(f32(2, 5, 5)), w=arr_npy(f32(2, 3, 3, 3)), b=arr_npy(f32(3)))
    err_case("bias 2-D", b=arr_npy(f32(1, 3)))
    err_case("bias 0-D scalar", b=npy(f32(1).tobytes(), shape="()"))
    for opt, val in (("--stride", "0"), ("--stride", "-1"), ("--stride", "a"), ("--stride", "2,2,2"),
                     ("--stride", ""), ("--stride", "2,"), ("--stride", "1.5"), ("--stride", "0,2"),
                     ("--stride", "99999999999999999999999"), ("--padding", "-1"), ("--padding", "1,-1"),
                     ("--output-padding", "-1"), ("--dilation", "0"), ("--dilation", "-2"), ("--dilation", "1,0"),
                     ("--groups", "0"), ("--groups", "-1"), ("--groups", "1,1"), ("--groups", "x")):
        err_case("%s %r" % (opt, val), opts=[opt, val])
    err_case("output_padding == stride (s=2, d=1, o=2)", opts=["--stride", "2", "--output-padding", "2"])
    err_case("output_padding == stride == dilation (2)",
             opts=["--stride", "2", "--dilation", "2", "--output-padding", "2"])
    err_case("output_padding >= max(s,d) on W only (s=1,3 o=0,3)", opts=["--stride", "1,3", "--output-padding", "0,3"])
    err_case("output_padding 1 with stride 1 dilation 1", opts=["--output-padding", "1"])
    err_case("output size < 1 (huge padding)", opts=["--padding", "100"])
    err_case("output size exactly 0 (H=5,k=3,s=2,o=1,p=6: H_out=0)",
             opts=["--stride", "2", "--output-padding", "1", "--padding", "6,0"])
    err_case("huge padding near 2**40", opts=["--padding", str(2**40)])
    err_case("huge stride (2**40) making the output too big", opts=["--stride", str(2**40)])

    # Output path.
    err_case("output in a nonexistent directory",
             argv=lambda i, o: ["-i", i + "/x.npy", "-w", i + "/w.npy", "-o", o + "/no/such/dir/y.npy"])
    err_case("output path is a directory",
             argv=lambda i, o: ["-i", i + "/x.npy", "-w", i + "/w.npy", "-o", o])
    err_case("output path equal to the input path",
             argv=lambda i, o: ["-i", i + "/x.npy", "-w", i + "/w.npy", "-o", i + "/x.npy"])
    err_case("output path equal to the weight path",
             argv=lambda i, o: ["-i", i + "/x.npy", "-w", i + "/w.npy", "-b", i + "/b.npy", "-o", i + "/w.npy"])
    err_case("output path equal to the bias path",
             argv=lambda i, o: ["-i", i + "/x.npy", "-w", i + "/w.npy", "-b", i + "/b.npy", "-o", i + "/b.npy"])
    err_case("output path = input path spelled differently (in/./x.npy)",
             argv=lambda i, o: ["-i", i + "/x.npy", "-w", i + "/w.npy", "-o", i + "/./x.npy"])
    err_case("output path = input via a symlink",
             argv=lambda i, o: (os.symlink(i + "/x.npy", i + "/link.npy"),
                                ["-i", i + "/x.npy", "-w", i + "/w.npy", "-o", i + "/link.npy"])[1])
    # An error after the input was read must not touch an existing output file either.
    err_case("existing output file untouched on error (in/ holds it)",
             files={"y.npy": b"precious"},
             argv=lambda i, o: ["-i", i + "/x.npy", "-w", i + "/w.npy", "--stride", "0", "-o", i + "/y.npy"])


def main():
    golden()
    errors()
    print("1..%d" % len(results))
    failed = results.count(False)
    if failed:
        print("# %d of %d failed" % (failed, len(results)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
