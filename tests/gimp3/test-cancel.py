# SPDX-License-Identifier: GPL-3.0-or-later
# Cancel through GIMP's own mechanism, run by tests/gimp3/test-cancel.sh in GIMP (gimp-3.0 or gimp-3.2) under
# Xvfb. A PDB call from this batch script shows its progress in the status bar of GIMP's
# window; the driver clicks the status bar's Cancel button while the plug-in computes, and
# GIMP cancels the call the one way it cancels
# any plug-in (app/plug-in/gimpplugin-progress.c: the call returns CANCEL and the plug-in
# process is closed). The image must be exactly as it was and no image may have been added.
# A wide stride-1 kernel file keeps the plug-in busy for several seconds on a small image.
# The driver and this script meet through files in $CANCEL_DIR:
#   ready-N (this script) -> go-N (driver, after a screenshot) -> call N -> Cancel clicked
#   (driver) -> result-N (this script).
import hashlib
import os
import time

import gi
gi.require_version('Gimp', '3.0')
gi.require_version('Gegl', '0.4')
from gi.repository import Gimp, Gegl, Gio  # noqa: E402
import numpy as np  # noqa: E402

Gegl.init(None)
D = os.environ['CANCEL_DIR']


def tap(ok, name):
    print('TAP %s - %s' % ('ok' if ok else 'not ok', name), flush=True)


def state(img):
    h = hashlib.sha256(repr((img.get_width(), img.get_height())).encode())
    for layer in img.get_layers():
        w, ht = layer.get_width(), layer.get_height()
        h.update(layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, ht), 1.0, "R'G'B'A float",
                                        Gegl.AbyssPolicy.NONE))
    return h.hexdigest()


def slow_kernel(path, k=127):
    """A k x k non-separable kernel at stride 1: k * k taps per output pixel."""
    w = np.random.default_rng(7).random((k, k)) + 0.5
    w /= w.sum()
    with open(path, 'w') as f:
        f.write('tconv-kernel 1\nname slow\ndescription "cancel test"\nstride 1 1\n'
                'size %d %d\npadding %d %d\noutput-padding 0 0\nchannels 1\n'
                'provenance learned\nweights\n' % (k, k, k // 2, k // 2))
        for row in w:
            f.write(' '.join('%.9g' % v for v in row) + '\n')
        f.write('end\n')


kfile = os.path.join(D, 'slow.tconv')
slow_kernel(kfile)
img = Gimp.Image.new(480, 320, Gimp.ImageBaseType.RGB)
layer = Gimp.Layer.new(img, "bg", 480, 320, Gimp.ImageType.RGBA_IMAGE, 100.0,
                       Gimp.LayerMode.NORMAL)
img.insert_layer(layer, None, 0)
buf = layer.get_buffer()
buf.set(Gegl.Rectangle.new(0, 0, 480, 320), "R'G'B'A u8", os.urandom(480 * 320 * 4))
buf.flush()
before = state(img)

proc = Gimp.get_pdb().lookup_procedure('plug-in-tconv-upscale')
for n, new_image in enumerate((False, True)):
    what = 'new-image' if new_image else 'in place'
    n_images = len(Gimp.get_images())
    cfg = proc.create_config()
    cfg.set_property('run-mode', Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property('image', img)
    cfg.set_core_object_array('drawables', [layer])
    cfg.set_property('kernel', 'file')
    cfg.set_property('kernel-file', Gio.File.new_for_path(kfile))
    cfg.set_property('new-image', new_image)
    open(os.path.join(D, 'ready-%d' % n), 'w').close()
    for _ in range(600):
        if os.path.exists(os.path.join(D, 'go-%d' % n)):
            break
        time.sleep(0.1)
    t0 = time.monotonic()
    status = proc.run(cfg).index(0)
    secs = time.monotonic() - t0
    open(os.path.join(D, 'result-%d' % n), 'w').close()
    tap(status == Gimp.PDBStatusType.CANCEL,
        'GIMP\'s Cancel cancels the call (%s): CANCEL after %.1f s (got %s)'
        % (what, secs, status))
    tap(state(img) == before and len(Gimp.get_images()) == n_images,
        'after the cancel (%s) the image is exactly as it was and no image was added' % what)
img.delete()
print('TAP # done', flush=True)
