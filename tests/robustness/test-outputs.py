#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Output paths (issue 16, items 1, 2 and 7): the one output rule of every writer.

- A symbolic link, FIFO, folder or a file with other hard links as the output: refused with a
  message naming the path and the rule, the link's target untouched, no hang (every writer:
  upscale .png/.tif, apply, kernel make/show --png/--npy/import/normalize, learn, --class-map).
- /dev/null, and device nodes whose names have an image extension, in a private mount
  namespace with a tmpfs over /dev (the real /dev is never touched): still devices after.
- A replaced file keeps its permission bits; a file the user could not open for writing (as
  `cp` would say Permission denied) is not replaced (run as uid 65534 through setpriv).
- Output names of 242..255 bytes work (the temporary's name must fit NAME_MAX).
- The symlink race: a planter process of another user spins on every `.tconv-*` name in a
  world-writable output folder, planting symbolic links to a victim file; the victim is never
  written and the output is a regular file.
- Every catchable fatal signal while the output is being written, and while GEGL swaps, leaves
  no temporary file in the output folder and no swap file.
- Savers' limits (JPEG 65500, WebP 16383 per side) refused before any work with a `tconv
  upscale:` message (integer images to .hdr too); a warning when a saver drops alpha, bit
  depth or the colour profile.
Prints TAP. Environment: TCONV (the binary).
"""
import json
import os
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib

TCONV = os.environ.get("TCONV", "")
n = 0
failed = 0


def tap(ok, what, skip=None):
    global n, failed
    n += 1
    if skip is not None:
        print("ok %d - %s # SKIP %s" % (n, what, skip))
        return
    if not ok:
        failed += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, what))
    sys.stdout.flush()


def png(path, w, h, channels=3, seed=1, icc=None):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    x, rows = seed, []
    for _ in range(h):
        row = bytearray(b"\0")
        for _ in range(w * channels):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            row.append(x >> 23)
        rows.append(bytes(row))
    ctype = {1: 0, 3: 2, 4: 6}[channels]
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
                + (chunk(b"iCCP", b"test\0\0" + zlib.compress(icc)) if icc else b"")
                + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def npy(path, shape, value=0.25):
    count = 1
    for s in shape:
        count *= s
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % \
        "".join("%d, " % s for s in shape)
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
                + struct.pack("<%df" % count, *([value] * count)))


def run(args, timeout=60, env=None, pre=()):
    try:
        r = subprocess.run(list(pre) + [TCONV] + list(args), capture_output=True, text=True,
                           timeout=timeout, env=env)
        return r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        return None, "timeout after %d s" % timeout


def make_inputs(d):
    png(os.path.join(d, "in.png"), 48, 40)
    png(os.path.join(d, "rgba.png"), 16, 16, channels=4)
    npy(os.path.join(d, "x.npy"), (1, 6, 5))
    npy(os.path.join(d, "w.npy"), (1, 1, 4, 4))
    subprocess.run([TCONV, "kernel", "make", "bicubic", "--stride", "2", "-o",
                    os.path.join(d, "k.tconv")], check=True, capture_output=True)


def writers(d):
    """(name, extension, argv for an output path) for every writer."""
    i = lambda f: os.path.join(d, f)
    return [
        ("upscale .png", ".png", lambda o: ["upscale", "-i", i("in.png"), "-o", o]),
        ("upscale .tif", ".tif", lambda o: ["upscale", "-i", i("in.png"), "-o", o]),
        ("apply", ".npy", lambda o: ["apply", "-i", i("x.npy"), "-w", i("w.npy"), "--stride", "2",
                                     "-o", o]),
        ("kernel make", ".tconv", lambda o: ["kernel", "make", "bicubic", "--stride", "2", "-o", o]),
        ("kernel show --png", ".png", lambda o: ["kernel", "show", "bicubic", "--stride", "2",
                                                 "--png", o]),
        ("kernel show --npy", ".npy", lambda o: ["kernel", "show", "bicubic", "--stride", "2",
                                                 "--npy", o]),
        ("kernel import", ".tconv", lambda o: ["kernel", "import", i("w.npy"), "--stride", "2",
                                               "-o", o]),
        ("kernel normalize", ".tconv", lambda o: ["kernel", "normalize", i("k.tconv"), "-o", o]),
        ("learn", ".tconv", lambda o: ["learn", "-q", "-s", "2", "-k", "8", i("in.png"), "-o", o]),
        ("upscale --class-map", ".png", lambda o: ["upscale", "--kernel", "adaptive", "--stride", "2",
                                                   "--class-map", o, "-i", i("in.png"), "-o",
                                                   i("cm-out-%d.png" % os.getpid())]),
    ]


# ---- 1. what the output path already is ---------------------------------------------------

def kinds(top):
    d = tempfile.mkdtemp(dir=top)
    make_inputs(d)
    for name, ext, argv in writers(d):
        # each writer works on a plain new name first: the cases below then test the rule
        fresh = os.path.join(d, "new" + ext)
        rc, err = run(argv(fresh))
        tap(rc == 0 and stat.S_ISREG(os.lstat(fresh).st_mode),
            "%s: a new name is written (%s)" % (name, err.strip()[-200:]))
        os.unlink(fresh)
        for f in os.listdir(d):
            if f.startswith("cm-out-"):
                os.unlink(os.path.join(d, f))

        victim = os.path.join(d, "victim")
        with open(victim, "w") as f:
            f.write("victim\n")
        link = os.path.join(d, "link" + ext)
        os.symlink(victim, link)
        rc, err = run(argv(link))
        tap(rc not in (0, None) and "symbolic link" in err and link in err
            and os.path.islink(link) and open(victim).read() == "victim\n",
            "%s: a symbolic link as the output is refused, its target untouched (rc %s: %s)"
            % (name, rc, err.strip()[-200:]))
        os.unlink(link)

        fifo = os.path.join(d, "fifo" + ext)
        os.mkfifo(fifo)
        t0 = time.monotonic()
        rc, err = run(argv(fifo), timeout=20)
        tap(rc not in (0, None) and "FIFO" in err and stat.S_ISFIFO(os.lstat(fifo).st_mode),
            "%s: a FIFO as the output is refused at once (rc %s, %.1f s: %s)"
            % (name, rc, time.monotonic() - t0, err.strip()[-200:]))
        os.unlink(fifo)

        folder = os.path.join(d, "folder" + ext)
        os.mkdir(folder)
        rc, err = run(argv(folder))
        tap(rc not in (0, None) and "directory" in err and os.path.isdir(folder)
            and os.listdir(folder) == [],
            "%s: a folder as the output is refused (rc %s: %s)" % (name, rc, err.strip()[-200:]))
        os.rmdir(folder)

        hard = os.path.join(d, "hard" + ext)
        os.link(victim, hard)
        rc, err = run(argv(hard))
        tap(rc not in (0, None) and "hard link" in err and open(victim).read() == "victim\n"
            and os.stat(victim).st_nlink == 2,
            "%s: a file with another hard link is refused (rc %s: %s)"
            % (name, rc, err.strip()[-200:]))
        os.unlink(hard)
        os.unlink(victim)
        left = [f for f in os.listdir(d) if f.startswith(".tconv")]
        tap(left == [], "%s: no temporary left in the output folder %s" % (name, left))


def modes_and_permission(top):
    d = tempfile.mkdtemp(dir=top)
    make_inputs(d)
    for name, ext, argv in writers(d)[:4]:
        out = os.path.join(d, "mode" + ext)
        with open(out, "w") as f:
            f.write("old\n")
        os.chmod(out, 0o600)
        rc, err = run(argv(out))
        st = os.lstat(out)
        tap(rc == 0 and stat.S_IMODE(st.st_mode) == 0o600 and st.st_size > 4,
            "%s: a replaced 0600 file stays 0600 (rc %s, mode %o: %s)"
            % (name, rc, stat.S_IMODE(st.st_mode), err.strip()[-200:]))
        os.unlink(out)
    if os.geteuid() != 0:
        tap(True, "files the user may not write are not replaced", skip="not root (setpriv)")
        return
    # a folder anyone may write into, files the user 65534 may not write
    shared = tempfile.mkdtemp(dir=top)
    os.chmod(shared, 0o777)
    os.chmod(d, 0o755)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    nobody = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    for name, ext, argv in writers(d)[:4]:
        for what, owner, mode in (("root's 0644 file", 0, 0o644), ("its own 0444 file", 65534, 0o444)):
            out = os.path.join(shared, "perm" + ext)
            with open(out, "w") as f:
                f.write("old\n")
            os.chown(out, owner, owner)
            os.chmod(out, mode)
            rc, err = run(argv(out), pre=nobody)
            tap(rc not in (0, None) and "Permission denied" in err and open(out).read() == "old\n"
                and os.lstat(out).st_uid == owner,
                "%s as uid 65534: %s in a writable folder is not replaced (rc %s: %s)"
                % (name, what, rc, err.strip()[-200:]))
            os.unlink(out)
        left = [f for f in os.listdir(shared) if f.startswith(".tconv")]
        tap(left == [], "%s as uid 65534: no temporary left %s" % (name, left))


def long_names(top):
    d = tempfile.mkdtemp(dir=top)
    make_inputs(d)
    for name, ext, argv in (writers(d)[0], writers(d)[1], writers(d)[3]):
        for length in (242, 250, 255):
            out = os.path.join(d, "n" * (length - len(ext)) + ext)
            rc, err = run(argv(out))
            tap(rc == 0 and os.path.isfile(out),
                "%s: an output name of %d bytes is written (rc %s: %s)"
                % (name, length, rc, err.strip()[-200:]))
            if os.path.exists(out):
                os.unlink(out)


# ---- 2. /dev/null and device nodes, in a private mount namespace --------------------------

def devices_inner(top):
    """Runs inside `unshare -m`: a tmpfs over /dev, device nodes made there. JSON on stdout."""
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", "/dev"], check=True)
    for node, minor in (("null", 3), ("zero", 5), ("full", 7), ("random", 8), ("urandom", 9),
                        ("null.png", 3), ("null.tif", 3), ("null.npy", 3), ("full.png", 7)):
        os.mknod("/dev/" + node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    d = tempfile.mkdtemp(dir=top)
    make_inputs(d)
    results = []
    for name, ext, argv in writers(d):
        for target in ["/dev/null"] + (["/dev/null" + ext] if ext in (".png", ".tif", ".npy") else []) \
                + (["/dev/full.png"] if name == "upscale .png" else []):
            rc, err = run(argv(target))
            st = os.lstat(target)
            results.append((name, target, rc, err.strip()[-200:], stat.S_ISCHR(st.st_mode),
                            sorted(f for f in os.listdir("/dev") if f.startswith(".tconv"))))
    json.dump(results, sys.stdout)


def devices(top):
    me = os.path.abspath(__file__)
    try:
        r = subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable, me,
                            "--devices-inner", top], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        tap(True, "/dev/null as the output", skip="unshare: %s" % e)
        return
    if r.returncode != 0:
        tap(True, "/dev/null as the output", skip="unshare -m not permitted here: %s"
            % r.stderr.strip()[-200:])
        return
    for name, target, rc, err, still_dev, left in json.loads(r.stdout):
        tap(rc not in (0, None) and still_dev and left == [] and target in err,
            "%s -o %s (private /dev): refused, still a device, nothing left in /dev (rc %s: %s)"
            % (name, target, rc, err))


# ---- 3. the symlink race -------------------------------------------------------------------

PLANTER = r"""
import os, sys, time
d, victim, stop = sys.argv[1], sys.argv[2], sys.argv[3]
seen = {}
while not os.path.exists(stop):
    try:
        names = os.listdir(d)
    except OSError:
        continue
    now = time.monotonic()
    for e in names:
        if e.startswith(".tconv") and e not in seen:
            seen[e] = now
    for e, t in list(seen.items()):
        if now - t > 3:
            continue
        p = os.path.join(d, e)
        # the temporary's own name, once it is unlinked; names inside a folder of that name
        for q in (p, p + "/partial.tif", p + "/partial", p + "/out.tif"):
            try:
                os.symlink(victim, q)
            except OSError:
                pass
"""


def race(top):
    if os.geteuid() != 0:
        tap(True, "symlink race", skip="not root: the planter runs as another user")
        return
    d = tempfile.mkdtemp(dir=top)
    make_inputs(d)
    os.chmod(d, 0o755)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    # world-writable without the sticky bit: fs.protected_symlinks does not guard it
    outdir = tempfile.mkdtemp(dir=top)
    os.chmod(outdir, 0o777)
    victim = os.path.join(d, "victim")
    with open(victim, "w") as f:
        f.write("victim\n")
    os.chmod(victim, 0o644)
    stop = os.path.join(d, "stop")
    planter = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                sys.executable, "-c", PLANTER, outdir, victim, stop])
    out = os.path.join(outdir, "out.tif")
    written = 0
    try:
        for attempt in range(5):
            rc, err = run(["upscale", "-i", os.path.join(d, "in.png"), "--size", "1200x1000",
                           "-o", out])
            if open(victim, "rb").read() != b"victim\n":
                written += 1
                with open(victim, "w") as f:
                    f.write("victim\n")
            ok = rc == 0 and not os.path.islink(out) and os.path.isfile(out)
            tap(ok, "symlink race, run %d: output is a regular file (rc %s: %s)"
                % (attempt + 1, rc, err.strip()[-200:]))
            if os.path.lexists(out):
                os.unlink(out)
    finally:
        open(stop, "w").close()
        planter.wait(timeout=10)
    tap(written == 0, "symlink race: the victim was written in %d of 5 runs" % written)


# ---- 4. signals ----------------------------------------------------------------------------

SIGNALS = ["SIGQUIT", "SIGXCPU", "SIGPIPE", "SIGALRM", "SIGUSR1", "SIGUSR2", "SIGABRT", "SIGINT",
           "SIGTERM", "SIGHUP", "SIGVTALRM", "SIGPROF"]


def default_signals():
    # a shell's background jobs start with SIGINT/SIGQUIT ignored, which tconv keeps
    for s in SIGNALS:
        signal.signal(getattr(signal, s), signal.SIG_DFL)


def signal_case(d, cache, sig, when):
    out = os.path.join(d, "sig.tif")
    env = dict(os.environ, XDG_CACHE_HOME=cache)
    env.pop("GEGL_SWAP", None)
    args = [TCONV, "upscale", "-i", os.path.join(d, "in.png"), "--size", "5000x4000", "-o", out]
    if when == "swapping":
        # a small budget: GEGL's tile cache spills to its swap file while computing
        args += ["--memory-budget", "64M"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                         preexec_fn=default_signals)
    swapdir = os.path.join(cache, "gegl-0.4", "swap")
    sent, t0 = False, time.monotonic()
    while p.poll() is None and time.monotonic() - t0 < 60:
        if when == "writing":
            ready = any(f.startswith(".tconv") for f in os.listdir(d))
        else:
            ready = any(files for _, _, files in os.walk(swapdir))
        if ready:
            time.sleep(0.05)
            p.send_signal(getattr(signal, sig))
            sent = True
            break
        time.sleep(0.005)
    err = p.communicate(timeout=60)[1].decode(errors="replace")
    rc = p.returncode
    if not sent:
        tap(True, "%s while %s" % (sig, when),
            skip="tconv ended (rc %s) before the signal could be sent: %s" % (rc, err.strip()[-120:]))
        if os.path.exists(out):
            os.unlink(out)
        return
    left = sorted(f for f in os.listdir(d) if f.startswith(".tconv") or f == "sig.tif")
    swap = sorted(os.path.join(r, f) for r, _, fs in os.walk(swapdir) for f in fs) \
        + sorted(os.path.join(r, s) for r, ss, _ in os.walk(swapdir) for s in ss)
    tap(rc in (1, -getattr(signal, sig)) and left == [] and swap == [],
        "%s while %s: exit %s, left in the output folder %s, in GEGL's swap folder %s"
        % (sig, when, rc, left, swap))
    for f in left:
        subprocess.run(["rm", "-rf", os.path.join(d, f)])


def signals(top):
    d = tempfile.mkdtemp(dir=top)
    make_inputs(d)
    cache = os.path.join(top, "cache")
    for sig in SIGNALS:
        signal_case(d, cache, sig, "writing")
    for sig in ("SIGINT", "SIGTERM", "SIGQUIT", "SIGXCPU"):
        signal_case(d, cache, sig, "swapping")


# ---- 5. savers' limits ---------------------------------------------------------------------

def savers(top):
    d = tempfile.mkdtemp(dir=top)
    make_inputs(d)
    for ext, side, name in ((".jpg", 65500, "JPEG"), (".webp", 16383, "WebP")):
        out = os.path.join(d, "wide" + ext)
        t0 = time.monotonic()
        rc, err = run(["upscale", "-i", os.path.join(d, "in.png"), "--size", "%dx8" % (side + 1),
                       "-o", out])
        tap(rc == 1 and err.startswith("tconv upscale: ") and str(side) in err and name in err
            and not os.path.exists(out)
            and not [f for f in os.listdir(d) if f.startswith(".tconv")]
            and time.monotonic() - t0 < 10,
            "%s wider than %d: refused before any work with a tconv message (rc %s: %s)"
            % (name, side, rc, err.strip()[-200:]))
    out = os.path.join(d, "a.jpg")
    rc, err = run(["upscale", "-i", os.path.join(d, "rgba.png"), "-o", out])
    tap(rc == 0 and "warning" in err and "alpha" in err and os.path.isfile(out),
        "RGBA to JPEG: written, with a warning that the alpha is dropped (%s)" % err.strip())
    rc, err = run(["upscale", "-i", os.path.join(d, "in.png"), "-o", os.path.join(d, "b.jpg")])
    tap(rc == 0 and err.strip() == "", "RGB 8-bit to JPEG: no warning (%r)" % err.strip())
    # Radiance HDR holds floats at about 1 % precision: integer images are refused before any
    # work, a float image (an .hdr input) is written
    out = os.path.join(d, "int.hdr")
    rc, err = run(["upscale", "-i", os.path.join(d, "in.png"), "-o", out])
    tap(rc == 1 and err.startswith("tconv upscale: ") and "Radiance HDR" in err and "u8" in err
        and not os.path.exists(out) and not [f for f in os.listdir(d) if f.startswith(".tconv")],
        "8-bit image to .hdr: refused with a tconv message (rc %s: %s)" % (rc, err.strip()))
    hdr_in = os.path.join(d, "in.hdr")
    with open(hdr_in, "wb") as f:  # 4x3 flat RGBE scanlines, values 0.25..0.84
        f.write(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 3 +X 4\n"
                + b"".join(bytes([64 + 8 * i, 96, 128 + 8 * i, 128]) for i in range(12)))
    out = os.path.join(d, "float.hdr")
    rc, err = run(["upscale", "-i", hdr_in, "-o", out])
    tap(rc == 0 and os.path.isfile(out) and err.strip() == "",
        "float image to .hdr: written, no warning (rc %s: %r)" % (rc, err.strip()))
    # an Adobe-RGB-like profile: PNG, JPEG and TIFF carry it on, PPM and WebP cannot
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
    from icc import matrix_icc
    adobe = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
    png(os.path.join(d, "adobe.png"), 16, 12, icc=matrix_icc(adobe))
    for ext, dropped in ((".png", False), (".jpg", False), (".tif", False), (".ppm", True),
                         (".webp", True)):
        out = os.path.join(d, "adobe-out" + ext)
        rc, err = run(["upscale", "-i", os.path.join(d, "adobe.png"), "-o", out])
        warned = "warning" in err and "profile" in err
        tap(rc == 0 and os.path.isfile(out) and warned == dropped,
            "ICC-tagged input to %s: %s (%r)" % (ext, "a warning that the profile is dropped"
                                                  if dropped else "no warning", err.strip()))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--devices-inner":
        devices_inner(sys.argv[2])
        return 0
    if not TCONV or not os.access(TCONV, os.X_OK):
        print("Bail out! set TCONV to the tconv binary")
        return 1
    top = tempfile.mkdtemp(prefix="tconv-outputs-")
    os.chmod(top, 0o755)
    sections = os.environ.get("TCONV_OUTPUTS", "kinds modes long devices race signals savers").split()
    try:
        for s, fn in (("kinds", kinds), ("modes", modes_and_permission), ("long", long_names),
                      ("devices", devices), ("race", race), ("signals", signals),
                      ("savers", savers)):
            if s in sections:
                fn(top)
    finally:
        subprocess.run(["rm", "-rf", top])
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
