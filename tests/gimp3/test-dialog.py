# SPDX-License-Identifier: GPL-3.0-or-later
# The GIMP side of the dialog test (tests/gimp3/test-dialog.sh drives it under Xvfb with
# xdotool). On a real picture (GIMP's own splash image) with a second, offset layer, a mask
# and a channel, shown in a display: runs the plug-in interactively (the shell takes a
# screenshot of the dialog and presses Return), records the result, waits while the shell
# presses Ctrl+Z in the image window, and records the image again: one Undo must restore
# every drawable exactly. Then it opens the dialog again at x1.5 (960x540) without the NoHalo
# half; the shell screenshots it and presses Return, and the screenshot's preview must hold
# the final result's own pixels. Results go to $DIALOG_DIR/*.txt as "key value" lines.
import re
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


def set_last_values(**values):
    """Edits the plug-in's remembered values (GimpConfig text), which an interactive run
    starts from."""
    path = os.path.join(os.environ['GIMP3_DIRECTORY'], 'plug-in-settings',
                        'GimpProcedureConfigRun-plug-in-tconv-upscale.last')
    with open(path) as f:
        text = f.read()
    for name, value in values.items():
        line = '(%s %s)' % (name, value)
        text, n = re.subn(r'^\(%s [^\n]*\)$' % re.escape(name), line, text, flags=re.M)
        if n == 0:
            text += line + '\n'
    with open(path, 'w') as f:
        f.write(text)
    with open('/work-out/dialog-last-values.txt', 'w') as f:
        f.write(text)


def rgb_bytes(drawable_or_layer, w, h):
    return drawable_or_layer.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, "R'G'B' u8",
                                              Gegl.AbyssPolicy.NONE)


def preview_block(shot, sw, sh, final, fw, fh):
    """Finds a 16-pixel run of the final result in the screenshot (on a grid, skipping flat
    runs, which could match anywhere), then the rectangle around it where every screenshot
    pixel equals the result at that offset: (width, height, unequal pixels in it, dx, dy)."""
    for fy in range(4, fh, 16):
        for fx in range(4, fw - 16, 16):
            seg = final[(fy * fw + fx) * 3:(fy * fw + fx + 16) * 3]
            if len(set(seg)) < 12:
                continue
            p = shot.find(seg)
            while p >= 0 and p % 3:
                p = shot.find(seg, p + 1)
            if p >= 0:
                sy, sx = divmod(p // 3, sw)
                return grow_block(shot, sw, sh, final, fw, fh, sx, sy, sx - fx, sy - fy)
    return None


def grow_block(shot, sw, sh, final, fw, fh, sx, sy, dx, dy):
    def same(x, y):
        u, v = x - dx, y - dy
        if not (0 <= x < sw and 0 <= y < sh and 0 <= u < fw and 0 <= v < fh):
            return False
        return shot[(y * sw + x) * 3:(y * sw + x) * 3 + 3] == final[(v * fw + u) * 3:(v * fw + u) * 3 + 3]
    x0 = x1 = sx
    y0 = y1 = sy
    while same(x0 - 1, sy):
        x0 -= 1
    while same(x1 + 1, sy):
        x1 += 1
    while same(sx, y0 - 1):
        y0 -= 1
    while same(sx, y1 + 1):
        y1 += 1
    bad = 0
    for y in range(y0, y1 + 1):
        a = shot[(y * sw + x0) * 3:(y * sw + x1 + 1) * 3]
        b = final[((y - dy) * fw + x0 - dx) * 3:((y - dy) * fw + x1 + 1 - dx) * 3]
        if a != b:
            bad += sum(a[i:i + 3] != b[i:i + 3] for i in range(0, len(a), 3))
    return x1 - x0 + 1, y1 - y0 + 1, bad, dx, dy


# The preview at x1.5 (a non-integer scale: the kernel at x2, then resampled), NoHalo off, on
# a fresh copy of the picture (an image that ran the plug-in starts from its own parasite, not
# from the last values on disk).
set_last_values(width=960, height=540, **{'preview-split': 'no'})
img2 = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                      Gio.File.new_for_path('/usr/share/gimp/3.0/images/gimp-splash.png'))
img2.crop(640, 360, 700, 380)
disp2 = Gimp.Display.new(img2)
Gimp.displays_flush()
write('ready2', state=state(img2))
status = run(img2, Gimp.RunMode.INTERACTIVE)
layer = img2.get_layers()[-1]
fw, fh = layer.get_width(), layer.get_height()
final = rgb_bytes(layer, fw, fh)
shot_path = os.environ.get('DIALOG_SHOT', '/work-out/dialog-x1.5.png')
found = None
if os.path.exists(shot_path):
    shot_img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(shot_path))
    sw, sh = shot_img.get_width(), shot_img.get_height()
    found = preview_block(rgb_bytes(shot_img.get_layers()[0], sw, sh), sw, sh, final, fw, fh)
    shot_img.delete()
write('preview', status=status.value_nick, width=img2.get_width(), height=img2.get_height(),
      found=found is not None, block='%dx%d' % found[:2] if found else 'none',
      unequal=found[2] if found else -1, offset='%d,%d' % found[3:] if found else 'none')

img2.clean_all()
disp2.delete()
img2.delete()
img.clean_all()
disp.delete()
img.delete()
quit_proc = PDB.lookup_procedure('gimp-quit')
cfg = quit_proc.create_config()
cfg.set_property('force', True)
quit_proc.run(cfg)
