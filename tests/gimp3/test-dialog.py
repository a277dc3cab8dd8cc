# SPDX-License-Identifier: GPL-3.0-or-later
# The GIMP side of the dialog test (tests/gimp3/test-dialog.sh drives it under Xvfb with
# xdotool). On a real picture (GIMP's own splash image) with a second, offset layer, a mask
# and a channel, shown in a display: runs the plug-in interactively (the shell takes a
# screenshot of the dialog and presses Return), records the result, waits while the shell
# presses Ctrl+Z in the image window, and records the image again: one Undo must restore
# every drawable exactly. Results go to $DIALOG_DIR/*.txt as "key value" lines.
import hashlib
import os
import time

import gi
gi.require_version('Gimp', '3.0')
gi.require_version('Gegl', '0.4')
from gi.repository import Gimp, Gio, Gegl  # noqa: E402

Gegl.init(None)
D = os.environ.get('DIALOG_DIR', '/tmp/dialog')
PDB = Gimp.get_pdb()


def write(name, **kv):
    with open(os.path.join(D, name + '.tmp'), 'w') as f:
        for k, v in kv.items():
            f.write('%s %s\n' % (k, v))
    os.rename(os.path.join(D, name + '.tmp'), os.path.join(D, name + '.txt'))


def drawables(img):
    out = []
    for layer in img.get_layers():
        out.append(layer)
        if layer.get_mask():
            out.append(layer.get_mask())
    return out + list(img.get_channels())


def state(img):
    h = hashlib.sha256(repr((img.get_width(), img.get_height())).encode())
    for d in drawables(img):
        w, ht = d.get_width(), d.get_height()
        fmt = "Y' u16" if isinstance(d, Gimp.Channel) else "R'G'B'A u16"
        h.update(repr((d.get_name(), w, ht, d.get_offsets())).encode())
        h.update(d.get_buffer().get(Gegl.Rectangle.new(0, 0, w, ht), 1.0, fmt,
                                    Gegl.AbyssPolicy.NONE))
    return h.hexdigest()[:16]


def layer_bytes(layer):
    w, h = layer.get_width(), layer.get_height()
    return layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, "R'G'B'A u8",
                                  Gegl.AbyssPolicy.NONE)


def run(img, mode):
    proc = PDB.lookup_procedure('plug-in-tconv-upscale')
    cfg = proc.create_config()
    cfg.set_property('run-mode', mode)
    cfg.set_property('image', img)
    cfg.set_core_object_array('drawables', [img.get_layers()[-1]])
    return proc.run(cfg).index(0)


# A real picture, cropped to keep the run short, plus an offset layer with a mask and a channel.
img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                     Gio.File.new_for_path('/usr/share/gimp/3.0/images/gimp-splash.png'))
img.undo_disable()
img.crop(640, 360, 700, 380)
bg = img.get_layers()[0]


def offset_copy(name, size, crop_at, position, opacity):
    layer = bg.copy()
    layer.set_name(name)
    img.insert_layer(layer, None, 0)
    layer.resize(*size, *crop_at)
    layer.set_offsets(*position)
    layer.set_opacity(opacity)
    return layer


top = offset_copy('offset copy', (200, 120), (-50, -40), (37, 21), 60.0)
top.add_mask(top.create_mask(Gimp.AddMaskType.WHITE))
# an offset, translucent layer without a mask, partly outside the canvas
offset_copy('offset, no mask', (150, 90), (-300, -100), (520, 300), 80.0)
chan = Gimp.Channel.new(img, 'channel', 640, 360, 50.0, Gegl.Color.new('blue'))
img.insert_channel(chan, None, 0)
img.undo_enable()
img.set_selected_layers([bg])
disp = Gimp.Display.new(img)
Gimp.displays_flush()

before = state(img)
scripted = img.duplicate()
write('ready', state=before)

t0 = time.time()
status = run(img, Gimp.RunMode.INTERACTIVE)
seconds = time.time() - t0
Gimp.displays_flush()
applied = state(img)
# The same defaults without the dialog must give the same pixels.
run(scripted, Gimp.RunMode.NONINTERACTIVE)
same = layer_bytes(img.get_layers()[-1]) == layer_bytes(scripted.get_layers()[-1])
write('applied', status=status.value_nick, width=img.get_width(), height=img.get_height(),
      layer=img.get_layers()[-1].get_width(), state=applied, same_as_scripted=same,
      seconds='%.1f' % seconds)
scripted.delete()

# The shell presses Ctrl+Z in the image window now.
for _ in range(600):
    if os.path.exists(os.path.join(D, 'undone')):
        break
    time.sleep(0.1)
time.sleep(0.5)
write('undo', width=img.get_width(), height=img.get_height(), state=state(img),
      restored=state(img) == before)

img.clean_all()
disp.delete()
img.delete()
quit_proc = PDB.lookup_procedure('gimp-quit')
cfg = quit_proc.create_config()
cfg.set_property('force', True)
quit_proc.run(cfg)
