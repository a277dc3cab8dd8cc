# SPDX-License-Identifier: GPL-3.0-or-later
# Integration tests of plug-in-tconv-upscale inside GIMP 3 (python-fu-eval batch mode).
# Run by tests/gimp3/plugin-inside.sh in the GIMP 3 chroot; prints "TAP ok - ..." and
# "TAP not ok - ..." lines (numbered by tests/gimp3/test-plugin.sh) among GIMP's own noise.
#
# Environment: TCONV (the tconv command built with the plug-in), TCONV_SRC (source tree),
# TCONV_WORK (a scratch folder).
import hashlib
import os
import subprocess
import sys
import traceback

import gi
gi.require_version('Gimp', '3.0')
gi.require_version('Gegl', '0.4')
from gi.repository import Gimp, Gio, Gegl  # noqa: E402
import numpy as np  # noqa: E402

Gegl.init(None)
TCONV = os.environ.get('TCONV', '/work-out/build/cli/tconv')
SRC = os.environ.get('TCONV_SRC', '/src')
WORK = os.environ.get('TCONV_WORK', '/tmp/tconv-plugin-test')
PRESETS = os.path.join(SRC, 'presets')
os.makedirs(WORK, exist_ok=True)
PDB = Gimp.get_pdb()
PROC = PDB.lookup_procedure('plug-in-tconv-upscale')


def tap(ok, name, diag=None):
    print('TAP %s - %s' % ('ok' if ok else 'not ok', name), flush=True)
    if diag and not ok:
        for line in str(diag).splitlines():
            print('TAP # ' + line, flush=True)
    return ok


def note(text):
    print('TAP # ' + text, flush=True)


# ---- images -------------------------------------------------------------------------------

PRECISIONS = {
    'u8': Gimp.Precision.U8_NON_LINEAR, 'u8-linear': Gimp.Precision.U8_LINEAR,
    'u16': Gimp.Precision.U16_NON_LINEAR, 'u16-linear': Gimp.Precision.U16_LINEAR,
    'u32': Gimp.Precision.U32_NON_LINEAR, 'u32-linear': Gimp.Precision.U32_LINEAR,
    'half': Gimp.Precision.HALF_NON_LINEAR, 'half-linear': Gimp.Precision.HALF_LINEAR,
    'float': Gimp.Precision.FLOAT_NON_LINEAR, 'float-linear': Gimp.Precision.FLOAT_LINEAR,
}
LAYOUTS = {  # base type, layer type, components, babl model (perceptual)
    'RGB': (Gimp.ImageBaseType.RGB, Gimp.ImageType.RGB_IMAGE, 3, "R'G'B'"),
    'RGBA': (Gimp.ImageBaseType.RGB, Gimp.ImageType.RGBA_IMAGE, 4, "R'G'B'A"),
    'GRAY': (Gimp.ImageBaseType.GRAY, Gimp.ImageType.GRAY_IMAGE, 1, "Y'"),
    'GRAYA': (Gimp.ImageBaseType.GRAY, Gimp.ImageType.GRAYA_IMAGE, 2, "Y'A"),
}


def pattern(w, h, comps, seed):
    """Smooth shapes, an edge and noise in [0, 1]; alpha (last of 2 or 4) varies too."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((h, w, comps), np.float32)
    for c in range(comps):
        base = 0.5 + 0.3 * np.sin(x / (3.0 + c) + c) * np.cos(y / (4.0 + c))
        base += 0.25 * (x + 2 * y > (w + h) * (0.4 + 0.1 * c))
        out[..., c] = base + 0.08 * rng.standard_normal((h, w))
    if comps in (2, 4):
        a = 0.5 + 0.5 * np.sin(x / 5.0 + y / 7.0)
        a[:, : w // 6] = 0.0  # a fully transparent strip
        out[..., -1] = a
    return np.clip(out, 0.0, 1.0)


def new_image(w, h, prec='u8', layout='RGB', seed=1, name='layer'):
    base, ltype, comps, model = LAYOUTS[layout]
    img = Gimp.Image.new_with_precision(w, h, base, PRECISIONS[prec])
    layer = Gimp.Layer.new(img, name, w, h, ltype, 100.0, Gimp.LayerMode.NORMAL)
    img.insert_layer(layer, None, 0)
    set_pixels(layer, pattern(w, h, comps, seed), model + ' float')
    return img, layer


def set_pixels(drawable, arr, fmt):
    h, w = arr.shape[:2]
    buf = drawable.get_buffer()
    buf.set(Gegl.Rectangle.new(0, 0, w, h), fmt, np.ascontiguousarray(arr, np.float32).tobytes())
    buf.flush()
    drawable.update(0, 0, w, h)


def model_of(drawable):
    if isinstance(drawable, Gimp.Channel):  # masks and channels
        return "Y'"
    if drawable.is_gray():
        return "Y'A" if drawable.has_alpha() else "Y'"
    return "R'G'B'A" if drawable.has_alpha() else "R'G'B'"


def pixels(drawable, fmt=None, dtype=np.float32):
    w, h = drawable.get_width(), drawable.get_height()
    fmt = fmt or model_of(drawable) + ' float'
    data = drawable.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt,
                                     Gegl.AbyssPolicy.NONE)
    return np.frombuffer(data, dtype).reshape(h, w, -1)


def all_drawables(img):
    out = []

    def walk(items):
        for it in items:
            out.append(it)
            m = it.get_mask() if isinstance(it, Gimp.Layer) else None
            if m:
                out.append(m)
            if it.is_group():
                walk(it.get_children())
    walk(img.get_layers())
    out.extend(img.get_channels())
    return out


def snapshot(img):
    """Everything an upscale may change: sizes, offsets and exact pixels of every drawable."""
    h = hashlib.sha256()
    h.update(repr((img.get_width(), img.get_height(), img.get_precision())).encode())
    for d in all_drawables(img):
        h.update(repr((d.get_name(), d.get_width(), d.get_height(), d.get_offsets())).encode())
        if not (isinstance(d, Gimp.Layer) and d.is_group()):
            h.update(pixels(d, model_of(d) + ' float').tobytes())
    return h.hexdigest()


def export(img, path):
    Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, img, Gio.File.new_for_path(path), None)


def export_tiff_exchange(img, path):
    """Exports @img as a one-page TIFF for both sides to read. GIMP 3.2's TIFF export adds
    a thumbnail by default (include-thumbnail): a 256-pixel JPEG page with old-style JPEG
    tags, even for a 61x47 image, and 3.2's TIFF import loads that page as a second, larger
    layer (GIMP 3.0.4 writes no thumbnail for float images). The command reads the first
    page, so the two sides would get different images (gimp_default_tiff_case checks it)."""
    cfg = PDB.lookup_procedure('file-tiff-export').create_config()
    cfg.set_property('run-mode', Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property('image', img)
    cfg.set_property('file', Gio.File.new_for_path(path))
    cfg.set_property('include-thumbnail', False)
    res = PDB.lookup_procedure('file-tiff-export').run(cfg)
    if res.index(0) != Gimp.PDBStatusType.SUCCESS:
        raise RuntimeError('file-tiff-export %s: %s' % (path, PDB.get_last_error()))


def load(path):
    return Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))


def gegl_load(path, fmt):
    """A file's pixels as the tconv command reads them (GEGL's loaders), in @fmt floats."""
    graph = Gegl.Node()
    node = graph.create_child('gegl:load')
    node.set_property('path', path)
    box = node.get_bounding_box()
    buf = Gegl.Buffer.new(fmt, 0, 0, box.width, box.height)
    node.blit_buffer(buf, box, 0, Gegl.AbyssPolicy.NONE)
    data = buf.get(box, 1.0, fmt, Gegl.AbyssPolicy.NONE)
    return np.frombuffer(data, np.float32).reshape(box.height, box.width, -1)


# ---- the procedure ------------------------------------------------------------------------

def upscale(img, drawables=None, **args):
    cfg = PROC.create_config()
    cfg.set_property('run-mode', Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property('image', img)
    cfg.set_core_object_array('drawables', drawables if drawables is not None
                              else img.get_selected_drawables())
    for k, v in args.items():
        k = k.replace('_', '-')
        if k == 'kernel-file':
            v = Gio.File.new_for_path(v) if v else None
        cfg.set_property(k, v)
    res = PROC.run(cfg)
    status = res.index(0)
    if status == Gimp.PDBStatusType.SUCCESS:
        return status, res.index(1)
    msg = res.index(1) if res.length() > 1 else ''
    return status, msg if isinstance(msg, str) else PDB.get_last_error()


def cli(inp, out, kernel, stride=None, size=None, border='clamp', linear=False, norm=False,
        antiring=None):
    cmd = [TCONV, 'upscale', '-i', inp, '-o', out, '--border', border]
    if kernel:
        cmd += ['-k', kernel]
    if antiring is not None:
        cmd += ['--antiring', repr(antiring)]
    if stride:
        cmd += ['--stride', str(stride)]
    if size:
        cmd += ['--size', '%dx%d' % size]
    if linear:
        cmd.append('--linear')
    if norm:
        cmd.append('--normalize-phases')
    p = subprocess.run(cmd, capture_output=True, text=True,
                       env=dict(os.environ, TCONV_PRESET_DIR=PRESETS))
    return p.returncode, p.stderr.strip()


def check(name, fn):
    try:
        fn()
    except Exception:
        tap(False, name, traceback.format_exc())


# ---- 1. The plug-in equals `tconv upscale` on the same file -----------------------------

EQUAL_CASES = [
    # prec, layout, kernel, stride, border, linear, normalize-phases, size, kernel file
    ('u8', 'RGB', 'learned', 2, 'clamp', False, False, None, None),
    ('u8', 'RGBA', 'bicubic', None, 'mirror', False, False, (152, 91), None),
    ('u8', 'GRAY', 'self', 2, 'wrap', False, False, None, None),
    ('u16', 'RGB', 'file', None, 'clamp', True, False, None, 'learned-small-x2.tconv'),
    ('u16', 'RGBA', 'learned', None, 'zero', False, False, (130, 100), None),
    ('u16', 'GRAY', 'mitchell', 4, 'mirror', False, False, None, None),
    ('float', 'RGB', 'bicubic', 2, 'clamp', True, False, None, None),
    ('float', 'RGBA', 'learned', 4, 'clamp', False, False, None, None),
    ('float', 'GRAY', 'lanczos3', 3, 'wrap', False, True, None, None),
    # adaptive kernel banks, and anti-ringing (None: the kernel's default on both sides)
    ('u8', 'RGB', 'adaptive', 2, 'clamp', False, False, None, None, None),
    ('u8', 'RGBA', 'adaptive', 3, 'mirror', False, False, None, None, 0.3),
    ('u16', 'GRAY', 'adaptive', 4, 'zero', True, False, None, None, None),
    ('float', 'RGB', 'adaptive', None, 'clamp', False, False, (150, 100), None, 0.0),
    ('u8', 'RGB', 'file', None, 'wrap', False, False, None, 'adaptive-x2.tconv', None),
    ('u16', 'RGB', 'lanczos3', 2, 'clamp', False, False, None, None, 0.5),
    # no kernel given: the plug-in's default and the command's are the same (adaptive at x3)
    ('u8', 'RGBA', None, 3, 'clamp', False, False, None, None, None),
]


def gegl_save_exr(buffer, path):
    """Writes @buffer as the command writes a float result (gegl:exr-save), so that both
    results go through the same conversions before they are compared."""
    graph = Gegl.Node()
    src = graph.create_child('gegl:buffer-source')
    src.set_property('buffer', buffer)
    save = graph.create_child('gegl:exr-save')
    save.set_property('path', path)
    src.link(save)
    save.process()


def equal_case(prec, layout, kernel, stride, border, linear, norm, size, kfile, antiring=None):
    kfile = kfile and os.path.join(PRESETS, kfile)
    tag = '%s-%s-%s-x%s%s%s' % (prec, layout, kernel or 'default', stride,
                                '-%dx%d' % size if size else '',
                                '' if antiring is None else '-antiring%g' % antiring)
    ext = 'tif' if prec == 'float' else 'png'
    src, img0 = os.path.join(WORK, tag + '-in.' + ext), None
    img0, _ = new_image(61, 47, prec, layout, seed=len(tag))
    (export_tiff_exchange if ext == 'tif' else export)(img0, src)
    img = load(src)  # both sides read the same file
    layer = img.get_layers()[0]
    same = (img.get_width(), img.get_height(), len(img.get_layers())) == (61, 47, 1)
    if same:  # colour only where alpha > 0: GIMP 3.2's PNG export drops the rest
        a, b = pixels(layer), pixels(img0.get_layers()[0])
        seen = (b[..., -1:] > 0) if layout.endswith('A') else np.ones_like(b[..., :1], bool)
        same = np.array_equal(np.where(seen, a, 0), np.where(seen, b, 0))
    img0.delete()
    if not tap(same, 'GIMP reads back the %s file it wrote: %s' % (ext, tag),
               '%dx%d, %d layers' % (img.get_width(), img.get_height(), len(img.get_layers()))):
        img.delete()
        return
    args = dict(stride=stride or 2, border=border, linear=linear, normalize_phases=norm)
    if kernel:
        args['kernel'] = kernel
    if antiring is not None:
        args['antiring'] = antiring
    if size:
        args.update(width=size[0], height=size[1])
    if kfile:
        args['kernel_file'] = kfile
    status, res = upscale(img, [layer], **args)
    if not tap(status == Gimp.PDBStatusType.SUCCESS, 'runs: ' + tag, res):
        img.delete()
        return
    # The command's TIFF saver is told 16 bits: float results go to OpenEXR (32-bit float).
    out = os.path.join(WORK, tag + '-cli.' + ('exr' if prec == 'float' else ext))
    ckernel = kfile or kernel
    cstride = None if (kfile or size) else stride
    rc, err = cli(src, out, ckernel, cstride, size, border, linear, norm, antiring)
    if not tap(rc == 0, 'tconv upscale runs: ' + tag, err):
        img.delete()
        return
    model = model_of(layer)
    if prec == 'float':
        fmt, tol, unit = model + ' float', 1e-5, ''
    else:
        fmt, tol, unit = model + ' ' + prec, 1, ' LSB'
    if prec == 'float':
        mine_path = os.path.join(WORK, tag + '-plugin.exr')
        gegl_save_exr(layer.get_buffer(), mine_path)
        mine = gegl_load(mine_path, model + ' float').astype(np.float64)
    else:
        mine = pixels(layer, fmt, np.uint8 if prec == 'u8' else np.uint16).astype(np.float64)
    ref = gegl_load(out, model + ' float').astype(np.float64)
    if prec != 'float':
        ref = np.round(ref * (255 if prec == 'u8' else 65535))
    same_shape = mine.shape == ref.shape
    diff = np.abs(mine - ref).max() if same_shape else float('inf')
    where = np.unravel_index(np.argmax(np.abs(mine - ref)), mine.shape) if same_shape else None
    tap(same_shape and diff <= tol,
        'equals tconv upscale within %s%s: %s (max diff %.3g)' % (tol, unit, tag, diff),
        'shapes %s vs %s; worst at (y, x, c) = %s' % (mine.shape, ref.shape, where))
    tap(img.get_precision() == PRECISIONS[prec],
        'keeps the precision: %s' % tag, str(img.get_precision()))
    img.delete()


for case in EQUAL_CASES:
    check('equal %s' % (case,), lambda c=case: equal_case(*c))


def gimp_default_tiff_case():
    """A float TIFF exported with GIMP's default options (in 3.2 with its thumbnail page) is
    read by the command as the image itself, with every value exact."""
    img, layer = new_image(61, 47, 'float', 'RGB', seed=3)
    path = os.path.join(WORK, 'gimp-default-float.tif')
    export(img, path)
    want = pixels(layer, "R'G'B' float")
    img.delete()
    got = gegl_load(path, "R'G'B' float")
    tap(got.shape == want.shape and np.array_equal(got, want),
        "tconv's loader reads a float TIFF as GIMP %s exports it by default: the image, exact"
        % Gimp.version(), 'shape %s, want %s' % (got.shape, want.shape))
    out = os.path.join(WORK, 'gimp-default-float-x2.exr')
    rc, err = cli(path, out, 'bicubic', 2)
    shape = gegl_load(out, "R'G'B' float").shape if rc == 0 else None
    tap(rc == 0 and shape == (94, 122, 3),
        'tconv upscale x2 of that file is 122x94 (got %s)' % (shape,), err)


check('GIMP default float TIFF', gimp_default_tiff_case)


# ---- 2. Every precision GIMP has, linear and perceptual ----------------------------------

def precision_case(prec):
    """The result in @prec equals the float result of the same (quantised) input, to the
    precision's own rounding."""
    img, layer = new_image(37, 29, prec, 'RGB', seed=7)
    linear = prec.endswith('linear')
    fmt = ('RGB' if linear else "R'G'B'") + ' float'
    quant = pixels(layer, fmt)
    ref_img = Gimp.Image.new_with_precision(37, 29, Gimp.ImageBaseType.RGB,
                                            PRECISIONS['float-linear' if linear else 'float'])
    ref = Gimp.Layer.new(ref_img, 'ref', 37, 29, Gimp.ImageType.RGB_IMAGE, 100.0,
                         Gimp.LayerMode.NORMAL)
    ref_img.insert_layer(ref, None, 0)
    set_pixels(ref, quant, fmt)
    s1, r1 = upscale(img, [layer], kernel='bicubic', stride=2)
    s2, r2 = upscale(ref_img, [ref], kernel='bicubic', stride=2)
    ok = s1 == s2 == Gimp.PDBStatusType.SUCCESS
    if tap(ok, 'runs in %s' % prec, '%s %s' % (r1, r2)):
        a, b = pixels(layer, fmt), pixels(ref, fmt)
        if prec[0] == 'u':  # integer formats clamp; float and half keep out-of-range values
            b = np.clip(b, 0.0, 1.0)
        step = {'u8': 1 / 255, 'u16': 1 / 65535, 'u32': 1e-6, 'half': 1e-3, 'float': 1e-5}
        tol = step[prec.split('-')[0]] * 1.01 + 1e-6
        # half: relative to the value
        d = np.abs(a - b) / (np.maximum(np.abs(b), 1.0) if prec.startswith('half') else 1.0)
        tap(d.max() <= tol and img.get_precision() == PRECISIONS[prec],
            '%s result equals the float result within its rounding (%.3g <= %.3g)'
            % (prec, d.max(), tol), 'precision after: %s' % img.get_precision())
    img.delete()
    ref_img.delete()


# u8, u16 and float (perceptual) are compared with the command above.
for prec in ('u32', 'half', 'u8-linear', 'u16-linear', 'u32-linear', 'half-linear',
             'float-linear'):
    check('precision ' + prec, lambda p=prec: precision_case(p))


# ---- 3. Layers, masks, channels, offsets --------------------------------------------------

def layered_image():
    img, bg = new_image(40, 30, 'u8', 'RGB', seed=3, name='bg')
    top = Gimp.Layer.new(img, 'top', 17, 11, Gimp.ImageType.RGBA_IMAGE, 80.0,
                         Gimp.LayerMode.NORMAL)
    img.insert_layer(top, None, 0)
    set_pixels(top, pattern(17, 11, 4, 4), "R'G'B'A float")
    top.set_offsets(5, 7)
    mask = top.create_mask(Gimp.AddMaskType.WHITE)
    top.add_mask(mask)
    set_pixels(mask, pattern(17, 11, 1, 5), "Y' float")
    group = Gimp.GroupLayer.new(img, 'group')
    img.insert_layer(group, None, 0)
    inner = Gimp.Layer.new(img, 'inner', 20, 10, Gimp.ImageType.RGBA_IMAGE, 100.0,
                           Gimp.LayerMode.NORMAL)
    img.insert_layer(inner, group, 0)
    set_pixels(inner, pattern(20, 10, 4, 6), "R'G'B'A float")
    inner.set_offsets(-3, 22)  # partly outside the canvas
    chan = Gimp.Channel.new(img, 'chan', 40, 30, 50.0, Gegl.Color.new('red'))
    img.insert_channel(chan, None, 0)
    set_pixels(chan, pattern(40, 30, 1, 8), "Y' float")
    return img


def geometry(img):
    return {d.get_name(): (d.get_width(), d.get_height()) + tuple(d.get_offsets()[1:])
            for d in all_drawables(img)}


def layered_case(scale, args):
    img = layered_image()
    before = geometry(img)
    status, res = upscale(img, [img.get_layers()[1]], kernel='bicubic', **args)
    if not tap(status == Gimp.PDBStatusType.SUCCESS, 'layered image %s runs' % args, res):
        return
    after = geometry(img)
    fx, fy = scale

    def rnd(v):
        return int(v + 0.5) if v >= 0 else -int(-v + 0.5)

    want = {}
    for name, (w, h, x, y) in before.items():
        nx, ny = rnd(fx * x), rnd(fy * y)
        want[name] = (rnd(fx * (x + w)) - nx, rnd(fy * (y + h)) - ny, nx, ny)
    size = (img.get_width(), img.get_height())
    tap(size == (rnd(40 * fx), rnd(30 * fy)), 'image is %dx%d after %s' % (size + (args,)),
        str(size))
    if fx == int(fx) and fy == int(fy):
        bad = {n: (after.get(n), want[n]) for n in want if after.get(n) != want[n]}
    else:  # GIMP's rounding of layers inside groups is its own: within a pixel
        bad = {n: (after.get(n), want[n]) for n in want
               if after.get(n) is None or max(abs(a - b) for a, b in zip(after[n], want[n])) > 1}
    tap(not bad, 'every layer, mask and channel scaled with its offsets (%s)' % args,
        'name: (got, want) %s' % bad)
    # The mask and the channel were up-sampled, not just enlarged: nearest neighbour would
    # repeat each value over a whole stride x stride block.
    m = pixels(img.get_layers()[1].get_mask())[..., 0]
    c = pixels(img.get_channels()[0])[..., 0]
    if fx == 3:
        def blocky(a):
            p, q = a[0::3, 0::3], a[1::3, 1::3]
            n, k = min(p.shape[0], q.shape[0]), min(p.shape[1], q.shape[1])
            return np.allclose(p[:n, :k], q[:n, :k])
        tap(not blocky(m) and not blocky(c), 'masks and channels are interpolated, not repeated')
    img.delete()


check('layered x3', lambda: layered_case((3, 3), dict(stride=3)))
check('layered 2.5', lambda: layered_case((2.5, 7 / 3), dict(width=100, height=70)))


# ---- 4. new-image -------------------------------------------------------------------------

def new_image_case():
    img = layered_image()
    before = snapshot(img)
    status, res = upscale(img, [img.get_layers()[1]], kernel='learned', stride=2,
                          new_image=True)
    ok = status == Gimp.PDBStatusType.SUCCESS
    if tap(ok, 'new-image runs', res):
        tap(snapshot(img) == before, 'new-image leaves the source image untouched')
        tap(res.get_id() != img.get_id() and (res.get_width(), res.get_height()) == (80, 60),
            'new-image returns a new 80x60 image')
        # same pixels as an in-place run
        status2, _ = upscale(img, [img.get_layers()[1]], kernel='learned', stride=2)
        same = all(np.array_equal(pixels(a), pixels(b))
                   for a, b in zip(all_drawables(img), all_drawables(res))
                   if not (isinstance(a, Gimp.Layer) and a.is_group()))
        tap(status2 == Gimp.PDBStatusType.SUCCESS and same,
            'new-image pixels equal the in-place result')
        res.delete()
    img.delete()


check('new-image', new_image_case)


# ---- 5. Errors leave the image as it was --------------------------------------------------

def error_case(name, want_in_message, **args):
    img = layered_image()
    before = snapshot(img)
    status, msg = upscale(img, [img.get_layers()[1]], **args)
    msg = str(msg)
    tap(status in (Gimp.PDBStatusType.CALLING_ERROR, Gimp.PDBStatusType.EXECUTION_ERROR)
        and all(w in msg for w in want_in_message),
        '%s: error "%s"' % (name, msg.replace('\n', ' ')[:150]),
        'status %s, message %r, wanted %r' % (status, msg, want_in_message))
    tap(snapshot(img) == before, '%s: the image is unchanged' % name)
    img.delete()


BAD = os.path.join(SRC, 'tests', 'data', 'bad-kernels')
# GIMP checks that an OPEN file argument exists before the plug-in runs: its own message.
check('missing file', lambda: error_case('missing kernel file', ['kernel-file'],
                                         kernel='file', kernel_file='/no/such/kernel.tconv'))
for bad, where in (('08-row-too-short.tconv', ':'), ('14-inf.tconv', ':'),
                   ('52-binary-garbage.tconv', ':')):
    check(bad, lambda b=bad, w=where: error_case(
        'malformed kernel file ' + b, [b, w], kernel='file', kernel_file=os.path.join(BAD, b)))
check('no file', lambda: error_case('kernel "file" without a file', ['kernel-file'],
                                    kernel='file'))
check('learned x5', lambda: error_case('learned at stride 5', ['learned', 'x2 x3 x4'],
                                       kernel='learned', stride=5))


def adaptive_cases():
    """The default kernel is adaptive; anti-ringing changes an adaptive result and -1 is the
    bank's default (0.75); at x5, where no bank exists, adaptive is the default single kernel
    (bicubic there, as the command without --kernel)."""
    default = PROC.find_argument('kernel').get_default_value()
    default = default.get_value() if hasattr(default, 'get_value') else default
    tap(default == 'adaptive', "the PDB 'kernel' argument defaults to adaptive", repr(default))
    outs = {}
    for name, args in (('default', {}), ('a75', {'antiring': 0.75}), ('a0', {'antiring': 0.0})):
        img, layer = new_image(48, 36, 'u8', 'RGB', seed=21)
        status, res = upscale(img, [layer], kernel='adaptive', stride=2, **args)
        outs[name] = pixels(img.get_layers()[0], 'R\'G\'B\' u8', np.uint8) \
            if status == Gimp.PDBStatusType.SUCCESS else None
        img.delete()
    ok = all(v is not None for v in outs.values())
    tap(ok and np.array_equal(outs['default'], outs['a75'])
        and not np.array_equal(outs['default'], outs['a0']),
        'adaptive: antiring -1 (default) is 0.75, and 0 gives other pixels')
    for nick in ('adaptive', 'bicubic'):
        img, layer = new_image(20, 14, 'u8', 'RGB', seed=5)
        status, res = upscale(img, [layer], kernel=nick, stride=5)
        outs[nick] = pixels(img.get_layers()[0], 'R\'G\'B\' u8', np.uint8) \
            if status == Gimp.PDBStatusType.SUCCESS else None
        img.delete()
    tap(outs['adaptive'] is not None and outs['bicubic'] is not None
        and np.array_equal(outs['adaptive'], outs['bicubic']),
        'adaptive at x5 (no bank): the default single kernel, bicubic')


check('adaptive', adaptive_cases)


def antiring_script_fu_case():
    """An anti-ringing outside -1..1 from Script-Fu is refused, the image unchanged."""
    img, layer = new_image(30, 20, 'u8', 'RGB', seed=12)
    before = snapshot(img)
    code = ('(plug-in-tconv-upscale #:run-mode RUN-NONINTERACTIVE #:image %d '
            '#:drawables (vector %d) #:kernel "adaptive" #:antiring 1.5)'
            % (img.get_id(), layer.get_id()))
    sf = PDB.lookup_procedure('plug-in-script-fu-eval')
    cfg = sf.create_config()
    cfg.set_property('run-mode', Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property('script', code)
    res = sf.run(cfg)
    msg = str(res.index(1) if res.length() > 1 else '') + ' ' + str(PDB.get_last_error())
    # GIMP checks the range before the plug-in runs: its message names the value and range
    tap(res.index(0) != Gimp.PDBStatusType.SUCCESS and '1.5' in msg and 'range' in msg,
        'antiring 1.5 is refused: "%s"' % msg.replace('\n', ' ')[:150], str(res.index(0)))
    tap(snapshot(img) == before and img.get_width() == 30, 'antiring 1.5: the image is unchanged')
    img.delete()


check('antiring out of range', antiring_script_fu_case)


def too_large_case():
    img, layer = new_image(40000, 2, 'u8', 'GRAY', seed=1)
    before = snapshot(img)
    status, msg = upscale(img, [layer], kernel='bicubic', stride=16)
    tap(status != Gimp.PDBStatusType.SUCCESS and '524288' in str(msg),
        'output above GIMP\'s limit: error "%s"' % str(msg)[:120], '%s %r' % (status, msg))
    tap(snapshot(img) == before, 'output above GIMP\'s limit: unchanged')
    img.delete()


check('too large', too_large_case)


def indexed_case():
    img, layer = new_image(32, 24, 'u8', 'RGB', seed=9)
    img.convert_indexed(Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16,
                        False, False, '')
    before = snapshot(img)
    status, msg = upscale(img, img.get_layers(), kernel='bicubic', stride=2)
    tap(status == Gimp.PDBStatusType.CALLING_ERROR and 'indexed' in str(msg),
        'indexed image: clear error "%s"' % str(msg)[:120], '%s %r' % (status, msg))
    tap(snapshot(img) == before, 'indexed image: unchanged')
    img.delete()


check('indexed', indexed_case)


# ---- 6. Every kernel of the choice --------------------------------------------------------

def kernels_case():
    # The others run in the comparisons above.
    for nick, stride in (('learned', 3), ('learned-small', 4), ('lanczos2', 2), ('bspline', 3),
                         ('bilinear', 4), ('nearest', 3)):
        if True:
            img, layer = new_image(100, 84, 'u8', 'RGB', seed=stride)
            status, res = upscale(img, [layer], kernel=nick, stride=stride)
            tap(status == Gimp.PDBStatusType.SUCCESS and
                (img.get_width(), img.get_height()) == (100 * stride, 84 * stride),
                'kernel %s at x%d' % (nick, stride), res)
            img.delete()


check('kernels', kernels_case)


# ---- 7. Alpha is premultiplied: transparent colour does not bleed ------------------------

def alpha_case():
    img = Gimp.Image.new(20, 10, Gimp.ImageBaseType.RGB)
    layer = Gimp.Layer.new(img, 'a', 20, 10, Gimp.ImageType.RGBA_IMAGE, 100.0,
                           Gimp.LayerMode.NORMAL)
    img.insert_layer(layer, None, 0)
    px = np.zeros((10, 20, 4), np.float32)
    px[:, :10] = (1, 0, 0, 0)    # transparent red
    px[:, 10:] = (0, 0, 1, 1)    # opaque blue
    set_pixels(layer, px, "R'G'B'A float")
    upscale(img, [layer], kernel='bicubic', stride=4)
    out = pixels(layer)
    vis = out[..., 3] > 0.02
    red = out[..., 0][vis].max()
    tap(red < 0.02, 'premultiplied alpha: no colour from transparent pixels (max red %.3g)'
        % red)
    img.delete()


check('alpha', alpha_case)


# ---- 8. Script-Fu, with named arguments ---------------------------------------------------

def script_fu_case():
    img, layer = new_image(30, 20, 'u8', 'RGB', seed=11)
    code = ('(plug-in-tconv-upscale #:run-mode RUN-NONINTERACTIVE #:image %d '
            '#:drawables (vector %d) #:kernel "lanczos3" #:stride 3 #:border "mirror" '
            '#:linear TRUE #:normalize-phases TRUE)' % (img.get_id(), layer.get_id()))
    sf = PDB.lookup_procedure('plug-in-script-fu-eval')
    cfg = sf.create_config()
    cfg.set_property('run-mode', Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property('script', code)
    res = sf.run(cfg)
    tap(res.index(0) == Gimp.PDBStatusType.SUCCESS and img.get_width() == 90,
        'Script-Fu named-argument call works', '%s %s' % (res.index(0), img.get_width()))
    img.delete()


check('script-fu', script_fu_case)


# ---- 9. A user's own preset is offered and runs ----------------------------------------------
# plugin-inside.sh puts mykernel-x2.tconv into the user's preset folder
# (g_get_user_data_dir()/tconv/presets) before GIMP first queries the plug-in.

USER_PRESET = os.path.join(os.environ.get('XDG_DATA_HOME')
                           or os.path.join(os.path.expanduser('~'), '.local', 'share'),
                           'tconv', 'presets', 'mykernel-x2.tconv')


def user_preset_case():
    if not tap(os.path.isfile(USER_PRESET), 'the user preset exists: ' + USER_PRESET):
        return
    choice = Gimp.param_spec_choice_get_choice(PROC.find_argument('kernel'))
    nicks = list(choice.list_nicks())
    tap('mykernel' in nicks, "the PDB 'kernel' choice offers the user's preset mykernel",
        'nicks: %s' % nicks)
    # Its pixels: the command given the same file by path (a file keeps its own stride).
    equal_case('u8', 'RGB', 'mykernel', 2, 'clamp', False, False, None, USER_PRESET)
    equal_case('u16', 'RGBA', 'mykernel', 2, 'mirror', False, False, None, USER_PRESET)


check('user preset', user_preset_case)

note('done')
