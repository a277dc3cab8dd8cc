# SPDX-License-Identifier: GPL-3.0-or-later
# Cancel leaves the image as it was: run with TCONV_UPSCALE_CANCEL_AT=0.5 in GIMP's
# environment, which makes the plug-in's progress callback ask the pipeline to stop halfway
# (the path a click on the progress bar's Cancel takes, short of GIMP killing the plug-in).
# Prints TAP lines for tests/gimp3/plugin-inside.sh.
import hashlib
import os

import gi
gi.require_version('Gimp', '3.0')
gi.require_version('Gegl', '0.4')
from gi.repository import Gimp, Gegl  # noqa: E402

Gegl.init(None)


def tap(ok, name):
    print('TAP %s - %s' % ('ok' if ok else 'not ok', name), flush=True)


def state(img):
    h = hashlib.sha256(repr((img.get_width(), img.get_height())).encode())
    for layer in img.get_layers():
        w, ht = layer.get_width(), layer.get_height()
        h.update(layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, ht), 1.0, "R'G'B'A float",
                                        Gegl.AbyssPolicy.NONE))
    return h.hexdigest()


img = Gimp.Image.new(160, 100, Gimp.ImageBaseType.RGB)
layer = Gimp.Layer.new(img, "bg", 160, 100, Gimp.ImageType.RGBA_IMAGE, 100.0,
                       Gimp.LayerMode.NORMAL)
img.insert_layer(layer, None, 0)
buf = layer.get_buffer()
buf.set(Gegl.Rectangle.new(0, 0, 160, 100), "R'G'B'A u8", os.urandom(160 * 100 * 4))
buf.flush()
before = state(img)

proc = Gimp.get_pdb().lookup_procedure('plug-in-tconv-upscale')
for new_image in (False, True):
    n_images = len(Gimp.get_images())
    cfg = proc.create_config()
    cfg.set_property('run-mode', Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property('image', img)
    cfg.set_core_object_array('drawables', [layer])
    cfg.set_property('kernel', 'bicubic')
    cfg.set_property('stride', 4)
    cfg.set_property('new-image', new_image)
    status = proc.run(cfg).index(0)
    what = 'new-image' if new_image else 'in place'
    tap(status == Gimp.PDBStatusType.CANCEL,
        'cancelled halfway (%s): the plug-in returns CANCEL (got %s)' % (what, status))
    tap(state(img) == before and len(Gimp.get_images()) == n_images,
        'cancelled halfway (%s): the image is unchanged and no image was added' % what)
img.delete()
print('TAP # done', flush=True)
