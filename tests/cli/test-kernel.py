#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""tconv kernel list|show|make|import|normalize, the shipped presets and the preset search path.

Needs numpy (and PIL for the heatmap checks, skipped without it). Every expectation comes from
an independent source: the .tconv files are read by a small parser here, the analytic kernels are
recomputed from their textbook formulas, phase sums and gains with numpy, PNG headers by hand.
- every shipped preset loads through `tconv kernel show` and reports checkerboard risk 0, and
  the phase sums recomputed from the printed weights agree; the printed weights are the file's,
  bit for bit; the 21 analytic presets match the formulas and presets/make-analytic.sh
  regenerates them byte for byte;
- `list` shows every analytic kernel and every preset family, from every preset folder;
- the search path: $TCONV_PRESET_DIR (colon-separated) before $XDG_DATA_HOME/tconv/presets,
  names with and without strides, files whose stride is not their name's;
- import of PyTorch weights: provenance, default padding, per-channel kernels, exact round trip
  of any float32, and `tconv apply` with the exported weights equals it with the original .npy;
- normalize: a 5x5 kernel at stride 2 goes from risk > 0 to 0 with the same mean gain;
- the heatmap PNG is a valid RGB PNG of the announced size, with warm, cool and white cells;
- every error path exits 1 or 2 with a message, writes no output (no temporary file either),
  and leaves the inputs as they were.
Prints TAP; exits 0 only if everything passed.
"""
import glob
import hashlib
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("TCONV_SOURCE_ROOT") or os.path.normpath(os.path.join(HERE, "..", ".."))
PRESETS = os.path.join(ROOT, "presets")
BAD_KERNELS = os.path.join(ROOT, "tests", "data", "bad-kernels")
ANALYTIC = ["nearest", "bilinear", "bicubic", "mitchell", "lanczos2", "lanczos3", "bspline"]

TCONV = os.environ.get("TCONV")
WRAP = shlex.split(os.environ.get("TCONV_WRAPPER", ""))
if not TCONV:
    print("Bail out! test-kernel.py: set the TCONV environment variable to the tconv binary")
    sys.exit("test-kernel.py: TCONV is not set (e.g. TCONV=build/cli/tconv)")
TCONV = os.path.abspath(TCONV)
if not os.access(TCONV, os.X_OK):
    print("Bail out! test-kernel.py: TCONV=%s is not an executable file" % TCONV)
    sys.exit(2)

TOP = tempfile.mkdtemp(prefix="tconv-kernel-test-")
# A user data folder of our own, so that the tester's presets never leak in.
XDG = os.path.join(TOP, "xdg")
os.makedirs(os.path.join(XDG, "tconv", "presets"))
BASE_ENV = dict(os.environ, XDG_DATA_HOME=XDG, TCONV_PRESET_DIR=PRESETS, LC_ALL="C.UTF-8")

results = []


def check(cond, desc):
    results.append(bool(cond))
    desc = " | ".join(str(desc).splitlines())  # one TAP line per result
    print(("ok" if cond else "not ok") + " %d - %s" % (len(results), desc), flush=True)


def run(args, env=None, cwd=None, prog=None):
    # GEGL (the heatmap, tconv upscale) runs without the wrapper: valgrind stops on the SIMD
    # code babl selects at run time, and GEGL has its own leak reports.
    gegl = "--png" in args or (args and args[0] == "upscale")
    cmd = ([] if gegl else WRAP) + [prog or TCONV] + list(args)
    try:
        r = subprocess.run(cmd, capture_output=True, env=env or BASE_ENV, cwd=cwd,
                           timeout=60 * (10 if WRAP else 1))
    except subprocess.TimeoutExpired:
        return None
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    return r


def kernel(*args, **kw):
    return run(("kernel",) + args, **kw)


def show_cmd(args):
    return "tconv " + " ".join(shlex.quote(str(a)) for a in args)


# ---------------------------------------------------------------- an independent .tconv reader

def unquote(s):
    assert s[0] == '"' and s[-1] == '"', s
    return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def read_tconv(path):
    """Reads a .tconv file in canonical form (what the writer emits) into a dict; of a kernel
    bank (version 2) its global kernel, the bank section kept as text in "bank"."""
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8").split("\n")
    assert lines[0] in ("tconv-kernel 1", "tconv-kernel 2"), lines[0]
    k = {"comments": [], "bias": None}
    i = 1
    while lines[i].startswith("#"):
        k["comments"].append(lines[i][2:])
        i += 1
    while lines[i] != "weights":
        key, _, val = lines[i].partition(" ")
        if key in ("description", "source", "degradation", "command"):
            k[key] = unquote(val)
        elif key in ("stride", "size", "padding", "output-padding"):
            k[key] = tuple(int(v) for v in val.split())
        elif key == "channels":
            k[key] = int(val)
        elif key == "bias":
            k[key] = np.array(val.split(), dtype=np.float32)
        else:
            k[key] = val
        i += 1
    i += 1
    kh, kw = k["size"]
    w = np.zeros((k["channels"], kh, kw), dtype=np.float32)
    for c in range(k["channels"]):
        if k["channels"] > 1:
            assert lines[i] == "channel %d" % c, lines[i]
            i += 1
        for y in range(kh):
            w[c, y] = np.array(lines[i].split(), dtype=np.float32)
            i += 1
    if lines[0] == "tconv-kernel 2":
        assert lines[i] == "end" and lines[i + 1].startswith("bank ") and lines[-2:] == ["end", ""]
        k["bank"] = lines[i + 1:-1]
    else:
        assert lines[i] == "end" and lines[i + 1:] == [""], lines[i:]
    k["weights"] = w
    return k


def phase_sums(w, sh, sw):
    """(C, sh, sw) float64 DC gains of the output phases."""
    c, kh, kw = w.shape
    s = np.zeros((c, sh, sw))
    for ry in range(sh):
        for rx in range(sw):
            s[:, ry, rx] = w[:, ry::sh, rx::sw].astype(np.float64).sum(axis=(1, 2))
    return s


def risk_of(w, sh, sw):
    s = phase_sums(w, sh, sw).reshape(w.shape[0], -1)
    r = 0.0
    for row in s:
        if row.max() != row.min():
            r = max(r, (row.max() - row.min()) / abs(row.mean()))
    return r


def parse_show(text):
    """The weights, phase sums, risk and key lines of `tconv kernel show`."""
    lines = text.splitlines()
    out = {"weights": [], "sums": [], "risk": None, "separable": None}
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"weights \((\d+) rows x (\d+) columns\):$", line)
        if m:
            kh = int(m.group(1))
            out["weights"].append(np.array([lines[i + 1 + j].split() for j in range(kh)],
                                           dtype=np.float32))
            i += 1 + kh
            continue
        if line.startswith("phase sums"):
            rows = []
            j = i + 2
            while j < len(lines) and re.match(r"  \d+\s", lines[j]):
                rows.append([float(v) for v in lines[j].split()[1:]])
                j += 1
            out["sums"].append(np.array(rows))
            i = j
            continue
        m = re.match(r"checkerboard risk\s+(\S+)", line)
        if m:
            out["risk"] = float(m.group(1))
        m = re.match(r"separable\s+(yes|no)", line)
        if m:
            out["separable"] = m.group(1) == "yes"
        m = re.match(r"(name|file|stride|size|padding|channels|provenance|source|command)\s+(.*)$",
                     line)
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2)
        i += 1
    if out["weights"]:
        out["w"] = np.stack(out["weights"])
    return out


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


# ---------------------------------------------------------------- analytic formulas

def bc_cubic(t, b, c):
    t = abs(t)
    if t < 1:
        return ((12 - 9 * b - 6 * c) * t ** 3 + (-18 + 12 * b + 6 * c) * t ** 2 + (6 - 2 * b)) / 6
    if t < 2:
        return ((-b - 6 * c) * t ** 3 + (6 * b + 30 * c) * t ** 2 + (-12 * b - 48 * c) * t
                + (8 * b + 24 * c)) / 6
    return 0.0


def lanczos(t, a):
    return float(np.sinc(t) * np.sinc(t / a)) if abs(t) < a else 0.0


FILTERS = {
    "nearest": (0.5, lambda t: 1.0 if -0.5 <= t < 0.5 else 0.0),
    "bilinear": (1.0, lambda t: max(0.0, 1 - abs(t))),
    "bicubic": (2.0, lambda t: bc_cubic(t, 0, 0.5)),
    "mitchell": (2.0, lambda t: bc_cubic(t, 1 / 3, 1 / 3)),
    "lanczos2": (2.0, lambda t: lanczos(t, 2)),
    "lanczos3": (3.0, lambda t: lanczos(t, 3)),
    "bspline": (2.0, lambda t: bc_cubic(t, 1, 0)),
}


def analytic_axis(name, s):
    """presets/README.md, 'Writing a kernel by hand': the smallest k >= 2Rs - 1 with k = s
    (mod 2), p = (k - s)/2, tap j at t = (j - p + 0.5)/s - 0.5, each phase normalised."""
    radius, f = FILTERS[name]
    k = int(round(2 * radius * s)) - 1
    if (k - s) % 2:
        k += 1
    p = (k - s) // 2
    w = np.array([f((j - p + 0.5) / s - 0.5) for j in range(k)])
    for r in range(s):
        w[r::s] /= w[r::s].sum()
    return w, p


# ---------------------------------------------------------------- .npy and PNG helpers

def save_npy(path, a):
    np.save(path, np.asarray(a))
    return path


def png_size(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
    crc = struct.unpack(">I", data[29:33])[0]
    if zlib.crc32(data[12:29]) & 0xFFFFFFFF != crc or not data.endswith(b"IEND\xaeB`\x82"):
        return None
    return w, h, depth, ctype


def snapshot(d):
    snap = {}
    for root, dirs, files in os.walk(d):
        for fn in files:
            p = os.path.join(root, fn)
            snap[os.path.relpath(p, d)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
        for x in dirs:
            snap[os.path.relpath(os.path.join(root, x), d) + "/"] = "dir"
    return snap


# ================================================================ the shipped presets

def shipped_presets():
    files = sorted(glob.glob(os.path.join(PRESETS, "*.tconv")))
    check(len(files) >= 21, "presets/ holds %d .tconv files (at least the 21 analytic ones)"
          % len(files))
    for name in ANALYTIC:
        for s in (2, 3, 4):
            p = os.path.join(PRESETS, "%s-x%d.tconv" % (name, s))
            check(os.path.isfile(p), "shipped: %s-x%d.tconv" % (name, s))

    for path in files:
        base = os.path.basename(path)[:-len(".tconv")]
        k = read_tconv(path)
        sh, sw = k["stride"]
        r = kernel("show", path)
        if r is None or r.returncode != 0:
            check(False, "show %s: %s" % (base, "timed out" if r is None else r.err.strip()))
            continue
        sh_out = parse_show(r.out)
        m = re.match(r"(.*)-x(\d+)$", base)
        ok_name = k["name"] == base and m is not None and (int(m.group(2)),) * 2 == (sh, sw)
        check(ok_name, "%s: its name and file name agree, stride %dx%d as named" % (base, sh, sw))
        same = "w" in sh_out and sh_out["w"].shape == k["weights"].shape \
            and np.array_equal(bits(sh_out["w"]), bits(k["weights"]))
        check(same, "%s: show prints exactly the file's %s weights" % (base, k["weights"].shape))
        indep = risk_of(k["weights"], sh, sw)
        check(sh_out["risk"] == 0.0 and indep <= 1e-6,
              "%s: checkerboard risk 0 (printed %r; from the weights (max-min)/mean = %.2g)"
              % (base, sh_out["risk"], indep))
        sums = phase_sums(k["weights"], sh, sw)
        printed = np.array(sh_out["sums"]) if sh_out["sums"] else None
        check(printed is not None and printed.shape == sums.shape
              and np.allclose(printed, sums, rtol=1e-6, atol=1e-7),
              "%s: the printed %dx%d phase-sum table equals numpy's sums" % (base, sh, sw))
        if not ok_name:
            continue
        # by name too, through the search path
        r2 = kernel("show", m.group(1), "--stride", str(sh))
        check(r2 is not None and r2.returncode == 0
              and parse_show(r2.out).get("file") == path,
              "show %s --stride %d resolves to %s" % (m.group(1), sh, path))

        family = m.group(1)
        if family in FILTERS:
            col, ph = analytic_axis(family, sh)
            row, pw = analytic_axis(family, sw)
            ref = np.outer(col, row).astype(np.float32)
            ok = k["weights"].shape == (1,) + ref.shape and k["padding"] == (ph, pw) \
                and k["output-padding"] == (0, 0) and k["provenance"] == "analytic" \
                and float(np.max(np.abs(k["weights"][0] - ref))) <= 1e-6
            check(ok, "%s: the %dx%d taps, padding %r match the %s formula"
                  % (base, ref.shape[0], ref.shape[1], k["padding"], family))
            check(sh_out["separable"] is True and "symmetry" in r.out
                  and "top-bottom yes, left-right yes, transpose yes" in r.out,
                  "%s: separable and symmetric, as printed" % base)


def make_reproducible():
    out = os.path.join(TOP, "regen")
    os.mkdir(out)
    r = subprocess.run(["sh", os.path.join(PRESETS, "make-analytic.sh"), out],
                       env=dict(BASE_ENV, TCONV=TCONV), capture_output=True, timeout=300)
    check(r.returncode == 0, "presets/make-analytic.sh runs (%s)" % r.stderr.decode().strip())
    made = sorted(os.listdir(out))
    expect = sorted("%s-x%d.tconv" % (n, s) for n in ANALYTIC for s in (2, 3, 4))
    check(made == expect, "make-analytic.sh writes exactly the 21 analytic presets")
    for f in expect:
        a = os.path.join(out, f)
        b = os.path.join(PRESETS, f)
        same = os.path.isfile(a) and os.path.isfile(b) and open(a, "rb").read() == open(b, "rb").read()
        check(same, "tconv kernel make regenerates %s byte for byte" % f)

    # any other stride on demand: make, then show of the generated kernel agrees with it
    for name, stride in [("lanczos3", "5"), ("bicubic", "2,3"), ("nearest", "1"), ("bspline", "16")]:
        dst = os.path.join(TOP, "made-%s-%s.tconv" % (name, stride.replace(",", "x")))
        r = kernel("make", name, "--stride", stride, "-o", dst)
        ok = r is not None and r.returncode == 0 and os.path.isfile(dst)
        check(ok, "make %s --stride %s" % (name, stride))
        if not ok:
            continue
        k = read_tconv(dst)
        sh, sw = (int(v) for v in (stride.split(",") * 2)[:2])
        col, _ = analytic_axis(name, sh)
        row, _ = analytic_axis(name, sw)
        check(k["stride"] == (sh, sw) and np.max(np.abs(k["weights"][0] - np.outer(col, row))) <= 1e-6
              and k["command"] == "tconv kernel make %s --stride %s" % (name, stride),
              "make %s --stride %s: formula weights and its own command line" % (name, stride))
        r = kernel("show", name, "--stride", stride)
        got = parse_show(r.out) if r is not None and r.returncode == 0 else {}
        check("w" in got and np.array_equal(bits(got["w"]), bits(k["weights"]))
              and got.get("file", "").startswith("(generated"),
              "show %s --stride %s (generated on demand) prints the weights make wrote"
              % (name, stride))
        # "bicubic-x5" names its stride itself
    r = kernel("show", "lanczos3-x5")
    check(r is not None and r.returncode == 0 and parse_show(r.out).get("stride", "").startswith("5x5"),
          "show lanczos3-x5: a full name with an unshipped stride is generated")


def list_command():
    r = kernel("list")
    check(r is not None and r.returncode == 0, "list exits 0")
    if r is None:
        return
    lines = r.out.splitlines()
    table = {}
    for line in lines[1:]:
        parts = line.split(None, 1)
        if len(parts) == 2:
            table[parts[0]] = parts[1]
    check(lines and lines[0].split() == ["NAME", "STRIDES", "DESCRIPTION"], "list has a header line")
    for name in ANALYTIC:
        rest = table.get(name, "")
        check(rest.startswith("x2 x3 x4 (any 1..16)") and len(rest) > 30,
              "list: %s, strides x2 x3 x4 (any 1..16), a description" % name)
    families = {}
    for path in glob.glob(os.path.join(PRESETS, "*.tconv")):
        m = re.match(r"(.*)-x(\d+)\.tconv$", os.path.basename(path))
        families.setdefault(m.group(1), set()).add(int(m.group(2)))
    for fam, strides in sorted(families.items()):
        want = " ".join("x%d" % s for s in sorted(strides))
        check(table.get(fam, "").startswith(want), "list: preset %s with strides %s" % (fam, want))
    check(len(table) == len(set(ANALYTIC) | set(families)),
          "list: one line per kernel family (%d)" % len(table))

    # extra folders: colon-separated $TCONV_PRESET_DIR, the user folder, broken files
    extra = os.path.join(TOP, "extra")
    os.mkdir(extra)
    shutil.copy(os.path.join(PRESETS, "bilinear-x3.tconv"), os.path.join(extra, "custom-x3.tconv"))
    with open(os.path.join(extra, "broken-x2.tconv"), "w") as f:
        f.write("tconv-kernel 1\nname broken-x2\n")
    shutil.copy(os.path.join(PRESETS, "bilinear-x2.tconv"),
                os.path.join(XDG, "tconv", "presets", "mine-x2.tconv"))
    env = dict(BASE_ENV, TCONV_PRESET_DIR=extra + ":" + PRESETS)
    r = kernel("list", env=env)
    out = r.out if r is not None else ""
    check(r is not None and r.returncode == 0 and re.search(r"^custom\s+x3\s", out, re.M)
          and re.search(r"^mine\s+x2\s", out, re.M)
          and all(re.search(r"^%s\s" % re.escape(f), out, re.M) for f in families),
          "list picks up *.tconv from every folder of $TCONV_PRESET_DIR and the user folder")
    check(re.search(r"^broken\s.*cannot be used", out, re.M) is not None,
          "list flags a preset file that does not parse")
    r = kernel("list", "--verbose", env=env)
    out = r.out if r is not None else ""
    dirs = [l.strip().split("  (")[0] for l in out.split("\n\n")[0].splitlines()[1:]]
    check(len(dirs) >= 3 and dirs[0] == extra and dirs[1] == PRESETS
          and dirs[2] == os.path.join(XDG, "tconv", "presets"),
          "list --verbose: $TCONV_PRESET_DIR folders first, then $XDG_DATA_HOME/tconv/presets (%r)"
          % dirs[:3])
    os.remove(os.path.join(XDG, "tconv", "presets", "mine-x2.tconv"))


def search_path():
    first = os.path.join(TOP, "first")
    os.mkdir(first)
    # a bicubic-x2 of our own in the first folder hides the shipped one
    k = read_tconv(os.path.join(PRESETS, "bilinear-x2.tconv"))
    text = open(os.path.join(PRESETS, "bilinear-x2.tconv")).read().replace("name bilinear-x2",
                                                                          "name bicubic-x2")
    with open(os.path.join(first, "bicubic-x2.tconv"), "w") as f:
        f.write(text)
    env = dict(BASE_ENV, TCONV_PRESET_DIR=first + ":" + PRESETS)
    r = kernel("show", "bicubic", env=env)
    got = parse_show(r.out) if r is not None and r.returncode == 0 else {}
    check(got.get("file") == os.path.join(first, "bicubic-x2.tconv")
          and np.array_equal(got.get("w"), k["weights"]),
          "an earlier folder of $TCONV_PRESET_DIR wins over a later one")
    r = kernel("show", "bicubic", "--stride", "3", env=env)
    got = parse_show(r.out) if r is not None and r.returncode == 0 else {}
    check(got.get("file") == os.path.join(PRESETS, "bicubic-x3.tconv"),
          "... and the stride picks the file (bicubic --stride 3 from the later folder)")

    # the user folder
    user = os.path.join(XDG, "tconv", "presets")
    shutil.copy(os.path.join(PRESETS, "mitchell-x4.tconv"), os.path.join(user, "soft-x4.tconv"))
    r = kernel("show", "soft", "--stride", "4")
    got = parse_show(r.out) if r is not None and r.returncode == 0 else {}
    check(got.get("file") == os.path.join(user, "soft-x4.tconv"),
          "a preset in $XDG_DATA_HOME/tconv/presets is found by name")
    r = kernel("show", "soft-x4")
    check(r is not None and r.returncode == 0, "... and by its full name soft-x4")
    r = kernel("show", "soft")
    check(r is not None and r.returncode == 2 and "x4" in r.err,
          "show soft (stride 2 by default) says the preset exists for x4: %s"
          % (r.err.strip() if r else "timeout"))

    # a file whose stride is not its name's
    shutil.copy(os.path.join(PRESETS, "bicubic-x2.tconv"), os.path.join(user, "liar-x3.tconv"))
    r = kernel("show", "liar", "--stride", "3")
    check(r is not None and r.returncode == 1 and "named for stride 3x3" in r.err,
          "a preset whose stride is not its name's is refused: %s" % (r.err.strip() if r else ""))
    os.remove(os.path.join(user, "liar-x3.tconv"))

    # the default: a binary in its build folder also finds the source tree's presets
    env = dict(BASE_ENV)
    del env["TCONV_PRESET_DIR"]
    r = kernel("list", "--verbose", env=env)
    if r is not None and os.path.realpath(TCONV).startswith(os.path.realpath(ROOT) + os.sep):
        check(r.returncode == 0 and re.search(r"^  %s$" % re.escape(os.path.realpath(PRESETS)),
                                              r.out, re.M),
              "without $TCONV_PRESET_DIR, a binary in the build folder searches the source presets")

    # tconv upscale looks kernels up through the same path
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        src = os.path.join(TOP, "small.png")
        Image.fromarray((np.arange(48).reshape(6, 8) * 5).astype(np.uint8)).convert("RGB").save(src)
        out = os.path.join(TOP, "big.png")
        r = run(["upscale", "-i", src, "-o", out, "--kernel", "soft", "--stride", "4"])
        check(r is not None and r.returncode == 0 and os.path.isfile(out),
              "tconv upscale --kernel soft finds the user-folder preset (%s)"
              % (r.err.strip() if r else "timeout"))
    os.remove(os.path.join(user, "soft-x4.tconv"))


# ================================================================ import, normalize, apply

def import_and_normalize():
    d = os.path.join(TOP, "imp")
    os.mkdir(d)
    rng = np.random.default_rng(7)
    w = rng.uniform(0.0, 0.2, (1, 1, 5, 5)).astype(np.float32)
    w[0, 0, 2, 2] = 0.9
    w[0, 0, 1, 3] = -0.1
    wp = save_npy(os.path.join(d, "w5.npy"), w)
    kp = os.path.join(d, "w5.tconv")
    args = ["import", wp, "--stride", "2", "--padding", "2", "--output-padding", "1",
            "--description", "a 5x5 test kernel", "-o", kp]
    r = kernel(*args)
    check(r is not None and r.returncode == 0 and os.path.isfile(kp),
          "import a (1, 1, 5, 5) .npy at stride 2 (%s)" % (r.err.strip() if r else "timeout"))
    if not os.path.isfile(kp):
        return
    k = read_tconv(kp)
    check(np.array_equal(bits(k["weights"]), bits(w[:, 0])) and k["channels"] == 1
          and k["stride"] == (2, 2) and k["padding"] == (2, 2) and k["output-padding"] == (1, 1),
          "the .tconv holds the .npy weights bit for bit, with the geometry given")
    check(k["provenance"] == "imported" and k["source"] == wp
          and k["command"] == "tconv kernel " + " ".join(shlex.quote(a) for a in args)
          and k["name"] == "w5"
          and k["description"] == "a 5x5 test kernel",
          "provenance imported, source = the .npy path, command = the full command line")
    before = risk_of(k["weights"], 2, 2)
    r = kernel("show", kp)
    got = parse_show(r.out) if r is not None else {}
    check(before > 0.1 and got.get("risk") is not None and abs(got["risk"] - before) <= 1e-5 * before,
          "imported 5x5 at stride 2: checkerboard risk %.4g > 0 (printed %r)" % (before, got.get("risk")))

    np_path = os.path.join(d, "w5n.tconv")
    ncmd = ["normalize", kp, "-o", np_path]
    r = kernel(*ncmd)
    check(r is not None and r.returncode == 0 and os.path.isfile(np_path),
          "normalize (%s)" % (r.err.strip() if r else "timeout"))
    if not os.path.isfile(np_path):
        return
    n = read_tconv(np_path)
    after = risk_of(n["weights"], 2, 2)
    mean_before = phase_sums(k["weights"], 2, 2).mean()
    mean_after = phase_sums(n["weights"], 2, 2).mean()
    check(after <= 1e-6, "normalized: phase sums equal (risk from the file's weights %.2g)" % after)
    check(abs(mean_after - mean_before) <= 1e-6 * abs(mean_before),
          "normalized: same mean gain %.9g -> %.9g" % (mean_before, mean_after))
    # each phase is the original phase times one factor
    sums = phase_sums(k["weights"], 2, 2)[0]
    ok = True
    for ry in range(2):
        for rx in range(2):
            ref = k["weights"][0, ry::2, rx::2].astype(np.float64) * (mean_before / sums[ry, rx])
            ok &= np.allclose(n["weights"][0, ry::2, rx::2], ref, rtol=1e-6, atol=1e-9)
    check(ok, "normalized: each phase is the original phase rescaled to the mean")
    r = kernel("show", np_path)
    got = parse_show(r.out) if r is not None else {}
    check(got.get("risk") == 0.0, "show reports risk 0 after normalize")
    check(n["provenance"] == "imported" and n["source"] == k["source"] and n["command"] == k["command"]
          and n["name"] == k["name"] and n["description"] == k["description"]
          and n["stride"] == k["stride"] and n["padding"] == k["padding"]
          and n["output-padding"] == k["output-padding"],
          "normalize keeps the provenance, name and geometry")
    check(len(n["comments"]) == len(k["comments"]) + 1 and "normalize" in n["comments"][-1]
          and "tconv kernel normalize" in n["comments"][-1],
          "normalize adds one comment line naming the command: %r" % n["comments"][-1:])

    # normalize by name: an analytic kernel is already flat
    out = os.path.join(d, "bicubic-n.tconv")
    r = kernel("normalize", "bicubic", "--stride", "3", "-o", out)
    check(r is not None and r.returncode == 0 and risk_of(read_tconv(out)["weights"], 3, 3) <= 1e-6,
          "normalize takes a kernel name as well")

    # default padding: k - s even -> (k - s) / 2, output padding 0
    w4 = rng.normal(0.25, 0.05, (1, 1, 4, 6)).astype(np.float32)
    p4 = save_npy(os.path.join(d, "w4.npy"), w4)
    o4 = os.path.join(d, "four.tconv")
    r = kernel("import", p4, "--stride", "2", "-o", o4)
    k4 = read_tconv(o4) if os.path.isfile(o4) else {}
    check(r is not None and r.returncode == 0 and k4.get("padding") == (1, 2)
          and k4.get("output-padding") == (0, 0) and k4.get("name") == "four",
          "import 4x6 at stride 2: default padding (1, 2), output padding 0, name from -o")

    # per-channel kernels with a bias
    w3 = rng.normal(0.1, 0.05, (3, 1, 4, 4)).astype(np.float32)
    b3 = np.array([0.5, -0.25, 1e-3], dtype=np.float32)
    p3 = save_npy(os.path.join(d, "w3.npy"), w3)
    pb = save_npy(os.path.join(d, "b3.npy"), b3)
    o3 = os.path.join(d, "rgb.tconv")
    r = kernel("import", p3, "--stride", "2", "--bias", pb, "--name", "rgb-test", "-o", o3)
    k3 = read_tconv(o3) if os.path.isfile(o3) else {}
    check(r is not None and r.returncode == 0 and k3.get("channels") == 3
          and np.array_equal(bits(k3["weights"]), bits(w3[:, 0]))
          and np.array_equal(bits(k3["bias"]), bits(b3)) and k3["name"] == "rgb-test",
          "import (3, 1, 4, 4) with a bias: channels 3, weights and bias bit for bit")
    r = kernel("show", o3)
    got = parse_show(r.out) if r is not None else {}
    check(got.get("w") is not None and got["w"].shape == (3, 4, 4)
          and np.array_equal(bits(got["w"]), bits(w3[:, 0])) and len(got["sums"]) == 3,
          "show prints the weights and phase sums of every channel")

    # any float32 survives import -> .tconv -> show / show --npy, bit for bit
    special = np.array([0.0, -0.0, 1e-45, -1e-45, 1.17549435e-38, 3.4028235e38, -3.4028235e38,
                        1 / 3, 0.1, 1e-7, 123456.789], dtype=np.float32)
    rand = (rng.standard_normal(64 - special.size) * 10.0 ** rng.uniform(-30, 30, 64 - special.size))
    wx = np.concatenate([special, rand.astype(np.float32)]).reshape(1, 1, 8, 8)
    px = save_npy(os.path.join(d, "wx.npy"), wx)
    ox = os.path.join(d, "wx.tconv")
    r = kernel("import", px, "--stride", "2", "-o", ox)
    ok = r is not None and r.returncode == 0 and os.path.isfile(ox)
    back = os.path.join(d, "wx-back.npy")
    r2 = kernel("show", ox, "--npy", back) if ok else None
    got = parse_show(r2.out) if r2 is not None and r2.returncode == 0 else {}
    check(ok and np.array_equal(bits(read_tconv(ox)["weights"]), bits(wx[:, 0]))
          and got.get("w") is not None and np.array_equal(bits(got["w"]), bits(wx[:, 0]))
          and os.path.isfile(back) and np.load(back).shape == (1, 1, 8, 8)
          and np.array_equal(bits(np.load(back)), bits(wx)),
          "write then read is exact: subnormals, -0, +-FLT_MAX and random magnitudes round-trip "
          "through .tconv, show and show --npy")

    # import, then tconv apply with the kernel's weights == apply with the original .npy
    for desc, wpath, kpath, shape_x, opts in [
            ("5x5, stride 2, padding 2, output padding 1", wp, kp, (1, 7, 9),
             ["--stride", "2", "--padding", "2", "--output-padding", "1"]),
            ("3 channels 4x4, stride 2, groups 3", p3, o3, (3, 6, 5),
             ["--stride", "2", "--padding", "1", "--groups", "3"])]:
        x = save_npy(os.path.join(d, "x.npy"), rng.standard_normal(shape_x).astype(np.float32))
        exported = os.path.join(d, "exported.npy")
        y1, y2 = os.path.join(d, "y1.npy"), os.path.join(d, "y2.npy")
        r0 = kernel("show", kpath, "--npy", exported)
        r1 = run(["apply", "-i", x, "-w", wpath, "-o", y1] + opts)
        r2 = run(["apply", "-i", x, "-w", exported, "-o", y2] + opts)
        ok = all(rr is not None and rr.returncode == 0 for rr in (r0, r1, r2))
        check(ok and np.array_equal(np.load(exported), np.load(wpath))
              and np.array_equal(bits(np.load(y1)), bits(np.load(y2))),
              "import then apply == apply with the original weights (%s)" % desc)


# ================================================================ the heatmap

def heatmap():
    d = os.path.join(TOP, "png")
    os.mkdir(d)
    try:
        from PIL import Image
    except ImportError:
        Image = None
    for name, stride, cell in [("bicubic", "2", None), ("learned", "4", None), ("nearest", "3", "20"),
                               ("lanczos3", "2,3", None)]:
        if name == "learned" and not os.path.isfile(os.path.join(PRESETS, "learned-x4.tconv")):
            continue
        out = os.path.join(d, "%s-%s.png" % (name, stride.replace(",", "x")))
        args = ["show", name, "--stride", stride, "--png", out] + (["--cell", cell] if cell else [])
        r = kernel(*args)
        ok = r is not None and r.returncode == 0
        m = re.search(r"heatmap written to .* \((\d+) x (\d+) pixels\)", r.out if r else "")
        size = png_size(out) if os.path.isfile(out) else None
        check(ok and m is not None and size is not None
              and size[:2] == (int(m.group(1)), int(m.group(2))) and size[2:] == (8, 2),
              "%s: a valid 8-bit RGB PNG of the announced size %s" % (show_cmd(args), size))
        if not ok or size is None:
            continue
        k = parse_show(r.out)
        kh, kw = k["w"].shape[1:]
        c = int(cell) if cell else None
        check(size[0] >= 2 * kw * (c or 14) and size[1] >= kh * (c or 14),
              "%s: room for the kernel and its phases (%dx%d taps)" % (out, kh, kw))
        if Image is None:
            continue
        im = np.asarray(Image.open(out).convert("RGB")).astype(int)
        warm = np.sum((im[..., 0] > 150) & (im[..., 2] < 90))
        bluish = np.sum(im[..., 2] > im[..., 0] + 15)
        white = np.sum(np.all(im == 255, axis=-1))
        dark = np.sum(np.all(im < 80, axis=-1))
        has_negative = bool(np.any(k["w"] < 0))
        # the colour bar alone (14 px wide, half of it blue) has fewer bluish pixels than 14 * H
        bar = 14 * im.shape[0]
        colours_ok = warm > 100 and white > im.shape[0] * im.shape[1] // 4 and dark > 50 \
            and (bluish > bar) == has_negative and bluish > 0
        check(colours_ok, "%s: warm cells, white background, dark lines and text, blue cells iff "
              "negative taps (warm %d, bluish %d, white %d, dark %d)"
              % (os.path.basename(out), warm, bluish, white, dark))
    # the same cell size gives the same picture size for the same geometry
    a, b = os.path.join(d, "a.png"), os.path.join(d, "b.png")
    ra = kernel("show", "mitchell", "--png", a, "--cell", "10")
    rb = kernel("show", "bspline", "--png", b, "--cell", "30")
    sa, sb = (png_size(p) if os.path.isfile(p) else None for p in (a, b))
    check(ra is not None and rb is not None and ra.returncode == 0 and rb.returncode == 0
          and sa is not None and sb is not None and sb[1] > sa[1],
          "--cell sets the cell size (10 px: %s, 30 px: %s)" % (sa, sb))


# ================================================================ error paths

def err_case(desc, argv, files=None, expect_codes=(1, 2), msg=None, env=None):
    """Runs a failing command in a fresh folder holding `files` ({name: bytes}) and an empty
    `out/`; argv(d) builds the arguments. It must exit 1 or 2 with a message on stderr and leave
    the folder exactly as it was (no output, no temporary file, inputs untouched)."""
    d = tempfile.mkdtemp(prefix="case-", dir=TOP)
    os.mkdir(os.path.join(d, "out"))
    for name, data in (files or {}).items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    before = snapshot(d)
    args = argv(d)
    r = kernel(*args, env=env)
    after = snapshot(d)
    if r is None:
        check(False, "%s: timed out [%s]" % (desc, show_cmd(["kernel"] + args)))
        return
    err = r.err.strip()
    ok = r.returncode in expect_codes and err.startswith("tconv kernel") and len(err) > 20 \
        and before == after and (msg is None or re.search(msg, err) is not None)
    extra = sorted(set(after) - set(before))
    check(ok, "%s: exit %d, %r%s" % (desc, r.returncode, err[:200],
                                    "" if before == after else "; folder changed: %r" % extra))


def npy_bytes(a):
    path = os.path.join(TOP, "tmp.npy")
    np.save(path, a)
    return open(path, "rb").read()


def errors():
    good_tconv = open(os.path.join(PRESETS, "bilinear-x2.tconv"), "rb").read()
    good_npy = npy_bytes(np.full((1, 1, 4, 4), 0.25, dtype=np.float32))
    F = {"k.tconv": good_tconv, "w.npy": good_npy}

    def P(d, n):
        return os.path.join(d, n)

    # the command itself
    err_case("kernel without a command", lambda d: [], expect_codes=(2,))
    err_case("kernel frobnicate", lambda d: ["frobnicate"], expect_codes=(2,), msg="unknown command")
    err_case("list with an argument", lambda d: ["list", "extra"], expect_codes=(2,))
    err_case("list --bogus", lambda d: ["list", "--bogus"], expect_codes=(2,))

    # show
    err_case("show: unknown name", lambda d: ["show", "bicubicc"], expect_codes=(2,),
             msg="unknown kernel 'bicubicc'.*bicubic")
    err_case("show: bad name", lambda d: ["show", "Bicubic"], expect_codes=(2,), msg="a-z0-9")
    err_case("show: missing name", lambda d: ["show"], expect_codes=(2,))
    err_case("show: two names", lambda d: ["show", "bicubic", "bilinear"], expect_codes=(2,))
    err_case("show: stride 0", lambda d: ["show", "bicubic", "--stride", "0"], expect_codes=(2,))
    err_case("show: stride 17 (analytic: 1..16)", lambda d: ["show", "bicubic", "--stride", "17"],
             expect_codes=(2,), msg="17")
    err_case("show: stride 65", lambda d: ["show", "bicubic", "--stride", "65"], expect_codes=(2,))
    err_case("show: stride 2,3,4", lambda d: ["show", "bicubic", "--stride", "2,3,4"], expect_codes=(2,))
    err_case("show: stride x", lambda d: ["show", "bicubic", "--stride", "x"], expect_codes=(2,))
    err_case("show: missing file", lambda d: ["show", P(d, "nope.tconv")], expect_codes=(1,),
             msg="nope.tconv")
    err_case("show: a folder", lambda d: ["show", d + "/"], expect_codes=(1,))
    err_case("show: stride of a file", lambda d: ["show", P(d, "k.tconv"), "--stride", "3"], F,
             expect_codes=(2,), msg="stride 2,2")
    err_case("show: learned at stride 7", lambda d: ["show", "learned", "--stride", "7"],
             expect_codes=(2,), msg="x2")
    err_case("show: --png into a missing folder",
             lambda d: ["show", "bicubic", "--png", P(d, "no/such/dir/k.png")], expect_codes=(1,))
    err_case("show: --png over the input", lambda d: ["show", P(d, "k.tconv"), "--png", P(d, "k.tconv")],
             F, expect_codes=(2,), msg="input")
    err_case("show: --npy over the input",
             lambda d: ["show", P(d, "k.tconv"), "--npy", os.path.join(d, ".", "k.tconv")], F,
             expect_codes=(2,), msg="input")
    err_case("show: --png a folder", lambda d: ["show", "bicubic", "--png", P(d, "out")],
             expect_codes=(1,), msg="directory")
    err_case("show: --npy into a missing folder, with --png",
             lambda d: ["show", "bicubic", "--png", P(d, "out/k.png"), "--npy", P(d, "no/w.npy")],
             expect_codes=(1,))
    err_case("show: --cell 2", lambda d: ["show", "bicubic", "--png", P(d, "out/k.png"), "--cell", "2"],
             expect_codes=(2,))

    # every malformed file of the catalogue, with its line:column
    expected = {}
    for line in open(os.path.join(BAD_KERNELS, "expected.txt"), encoding="utf-8"):
        if line.strip() and not line.startswith("#"):
            name, pos, _ = line.split(None, 2)
            expected[name] = pos
    for name in sorted(expected):
        data = open(os.path.join(BAD_KERNELS, name), "rb").read()
        pos = expected[name]
        err_case("show: malformed %s" % name, lambda d, n=name: ["show", P(d, n)], {name: data},
                 expect_codes=(1,), msg=re.escape(name) + "'?:" + re.escape(pos) + ":")
    err_case("normalize: malformed file", lambda d: ["normalize", P(d, "bad.tconv"), "-o", P(d, "out/n.tconv")],
             {"bad.tconv": good_tconv.replace(b"0.5625", b"nan")}, expect_codes=(1,), msg=r"bad\.tconv'?:\d+:\d+")

    # make
    err_case("make: not an analytic type", lambda d: ["make", "learned", "--stride", "2", "-o", P(d, "out/k.tconv")],
             expect_codes=(2,), msg="bicubic")
    err_case("make: no --stride", lambda d: ["make", "bicubic", "-o", P(d, "out/k.tconv")], expect_codes=(2,))
    err_case("make: no -o", lambda d: ["make", "bicubic", "--stride", "2"], expect_codes=(2,))
    err_case("make: no type", lambda d: ["make", "--stride", "2", "-o", P(d, "out/k.tconv")], expect_codes=(2,))
    err_case("make: stride 0", lambda d: ["make", "bicubic", "--stride", "0", "-o", P(d, "out/k.tconv")],
             expect_codes=(2,))
    err_case("make: stride 17", lambda d: ["make", "bicubic", "--stride", "17", "-o", P(d, "out/k.tconv")],
             expect_codes=(2,), msg="1..16")
    err_case("make: stride -2", lambda d: ["make", "bicubic", "--stride", "-2", "-o", P(d, "out/k.tconv")],
             expect_codes=(2,))
    err_case("make: output folder missing",
             lambda d: ["make", "bicubic", "--stride", "2", "-o", P(d, "none/k.tconv")], expect_codes=(1,))
    err_case("make: output is a folder", lambda d: ["make", "bicubic", "--stride", "2", "-o", P(d, "out")],
             expect_codes=(1,))

    # import
    def imp(npy_name="w.npy", *extra, out="out/k.tconv"):
        return lambda d: ["import", P(d, npy_name), "--stride", "2"] + list(extra) + ["-o", P(d, out)]

    def shape_case(desc, a, msg=None, code=(1,)):
        err_case("import: " + desc, imp("x.npy"), {"x.npy": npy_bytes(a)}, expect_codes=code, msg=msg)

    err_case("import: missing .npy", imp("none.npy"), expect_codes=(1,), msg="none.npy")
    err_case("import: not a .npy", imp("x.npy"), {"x.npy": b"hello, world\n"}, expect_codes=(1,))
    err_case("import: truncated .npy", imp("x.npy"), {"x.npy": good_npy[:-5]}, expect_codes=(1,),
             msg="truncated")
    err_case("import: integer .npy", imp("x.npy"), {"x.npy": npy_bytes(np.ones((1, 1, 4, 4), np.int32))},
             expect_codes=(1,), msg="i4")
    shape_case("3 dimensions", np.ones((1, 4, 4), np.float32), "expected \\(1, 1, kH, kW\\)")
    shape_case("5 dimensions", np.ones((1, 1, 1, 4, 4), np.float32), "shape")
    shape_case("a scalar", np.float32(1.0), "shape \\(\\)")
    shape_case("dimension 1 is 3 (mixes channels)", np.ones((3, 3, 4, 4), np.float32), "mixes channels")
    shape_case("65 channels", np.ones((65, 1, 2, 2), np.float32), "65 channels")
    shape_case("0 channels", np.ones((0, 1, 4, 4), np.float32), "0 channels")
    shape_case("kernel 257 high", np.ones((1, 1, 257, 2), np.float32), "257")
    shape_case("kernel 0 wide", np.ones((1, 1, 4, 0), np.float32), "4x0")
    a = np.full((1, 1, 4, 4), 0.25, np.float32)
    a[0, 0, 1, 2] = np.nan
    shape_case("a NaN weight", a, "\\(0, 0, 1, 2\\) is nan")
    a[0, 0, 1, 2] = -np.inf
    shape_case("an infinite weight", a, "-inf")
    shape_case("float64 beyond float32", np.full((1, 1, 4, 4), 1e300), "inf")
    err_case("import: no --stride", lambda d: ["import", P(d, "w.npy"), "-o", P(d, "out/k.tconv")], F,
             expect_codes=(2,))
    err_case("import: no -o", lambda d: ["import", P(d, "w.npy"), "--stride", "2"], F, expect_codes=(2,))
    err_case("import: stride 0", lambda d: ["import", P(d, "w.npy"), "--stride", "0", "-o", P(d, "out/k.tconv")],
             F, expect_codes=(2,))
    err_case("import: stride 65", lambda d: ["import", P(d, "w.npy"), "--stride", "65", "-o", P(d, "out/k.tconv")],
             F, expect_codes=(2,))
    err_case("import: padding above k - 1", imp("w.npy", "--padding", "4"), F, expect_codes=(2,), msg="k - 1")
    err_case("import: negative padding", imp("w.npy", "--padding", "-1"), F, expect_codes=(2,))
    err_case("import: output padding = stride", imp("w.npy", "--padding", "1", "--output-padding", "2"), F,
             expect_codes=(2,), msg="smaller than the stride")
    err_case("import: --output-padding without --padding", imp("w.npy", "--output-padding", "1"), F,
             expect_codes=(2,))
    err_case("import: 5x5 at stride 2 needs --padding", imp("x.npy"),
             {"x.npy": npy_bytes(np.ones((1, 1, 5, 5), np.float32))}, expect_codes=(2,),
             msg="--padding 2 --output-padding 1")
    err_case("import: 1x1 at stride 2 needs --padding", imp("x.npy"),
             {"x.npy": npy_bytes(np.ones((1, 1, 1, 1), np.float32))}, expect_codes=(2,),
             msg="--output-padding 1")
    err_case("import: bad --name", imp("w.npy", "--name", "My Kernel"), F, expect_codes=(2,), msg="a-z0-9")
    err_case("import: --description with a tab", imp("w.npy", "--description", "a\tb"), F, expect_codes=(2,))
    err_case("import: --description with a newline", imp("w.npy", "--description", "a\nb"), F,
             expect_codes=(2,))
    err_case("import: output = input", lambda d: ["import", P(d, "w.npy"), "--stride", "2", "-o", P(d, "w.npy")],
             F, expect_codes=(2,), msg="input")
    err_case("import: output folder missing", imp("w.npy", out="nowhere/k.tconv"), F, expect_codes=(1,))
    err_case("import: bias of the wrong shape",
             lambda d: ["import", P(d, "w.npy"), "--stride", "2", "--bias", P(d, "b.npy"), "-o", P(d, "out/k.tconv")],
             dict(F, **{"b.npy": npy_bytes(np.zeros((2,), np.float32))}), expect_codes=(1,), msg="shape \\(1,\\)")
    err_case("import: NaN bias",
             lambda d: ["import", P(d, "w.npy"), "--stride", "2", "--bias", P(d, "b.npy"), "-o", P(d, "out/k.tconv")],
             dict(F, **{"b.npy": npy_bytes(np.array([np.nan], np.float32))}), expect_codes=(1,), msg="nan")
    err_case("import: two .npy", lambda d: ["import", P(d, "w.npy"), P(d, "w.npy"), "--stride", "2",
                                           "-o", P(d, "out/k.tconv")], F, expect_codes=(2,))

    # normalize
    err_case("normalize: missing file", lambda d: ["normalize", P(d, "none.tconv"), "-o", P(d, "out/n.tconv")],
             expect_codes=(1,))
    err_case("normalize: no -o", lambda d: ["normalize", P(d, "k.tconv")], F, expect_codes=(2,))
    err_case("normalize: output = input", lambda d: ["normalize", P(d, "k.tconv"), "-o", P(d, "k.tconv")], F,
             expect_codes=(2,), msg="input")
    err_case("normalize: output = input by another path",
             lambda d: ["normalize", P(d, "k.tconv"), "-o", P(d, "out/../k.tconv")], F, expect_codes=(2,))
    err_case("normalize: output folder missing",
             lambda d: ["normalize", P(d, "k.tconv"), "-o", P(d, "none/n.tconv")], F, expect_codes=(1,))
    err_case("normalize: unknown name", lambda d: ["normalize", "bicubicc", "-o", P(d, "out/n.tconv")],
             expect_codes=(2,))
    one = npy_bytes(np.ones((1, 1, 1, 1), np.float32))
    # a 1x1 kernel at stride 2: three phases have no taps, nothing to rescale
    err_case("normalize: phases without taps",
             lambda d: ["normalize", P(d, "one.tconv"), "-o", P(d, "out/n.tconv")],
             {"one.tconv": b"tconv-kernel 1\nname one\nstride 2 2\nsize 1 1\npadding 0 0\n"
                           b"output-padding 1 1\nchannels 1\nprovenance imported\nweights\n1\nend\n"},
             expect_codes=(1,), msg="sums to 0")
    del one


def main():
    try:
        shipped_presets()
        make_reproducible()
        list_command()
        search_path()
        import_and_normalize()
        heatmap()
        errors()
    finally:
        shutil.rmtree(TOP, ignore_errors=True)
    print("1..%d" % len(results))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
