# SPDX-License-Identifier: GPL-3.0-or-later
# Benchmark, in one GIMP session (python-fu-eval batch): the plug-in against Image ▸ Scale
# Image (gimp-image-scale) with NoHalo, LoHalo and cubic interpolation, each enlarging the same
# 12-megapixel RGB image (GIMP's splash picture enlarged to 4000x3000) x2 to 8000x6000.
# Each method runs on a fresh duplicate with undo disabled (unless it says "undo on"),
# REPEAT times; the median wall time of the PDB call is printed as "BENCH method seconds". Run it with
# TCONV_PLUGIN_BENCH=1 tests/gimp3/test-plugin.sh. TCONV_BENCH_METHODS (comma-separated
# words, e.g. "learned,cubic") keeps only the methods whose name contains one of them;
# TCONV_BENCH_REPEAT sets the runs per method (default 3).
import os
import statistics
import time

import gi
gi.require_version('Gimp', '3.0')
gi.require_version('Gegl', '0.4')
from gi.repository import Gimp, Gio, Gegl  # noqa: E402

Gegl.init(None)
PDB = Gimp.get_pdb()
REPEAT = int(os.environ.get('TCONV_BENCH_REPEAT', '3'))
W, H, S = 4000, 3000, 2

base = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE,
                      Gio.File.new_for_path('/usr/share/gimp/3.0/images/gimp-splash.png'))
base.undo_disable()
Gimp.context_push()
Gimp.context_set_interpolation(Gimp.InterpolationType.CUBIC)
base.scale(W, H)
Gimp.context_pop()


def thp():
    """Whether this process, and so GIMP, whose plug-in it is, may use transparent huge pages
    (test-plugin.sh prints the machine's setting, which the chroot cannot see)."""
    with open('/proc/self/status') as fh:
        for line in fh:
            if line.startswith('THP_enabled:'):
                return 'THP ' + ('on' if line.split()[1] == '1' else 'off')
    return 'THP ?'


print('BENCH image %dx%d %s, GEGL threads %d, %s, load average %s' % (
    base.get_width(), base.get_height(), base.get_precision().value_nick,
    Gegl.config().get_property('threads'), thp(), os.getloadavg()), flush=True)


def plugin(img, kernel):
    proc = PDB.lookup_procedure('plug-in-tconv-upscale')
    cfg = proc.create_config()
    cfg.set_property('run-mode', Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property('image', img)
    cfg.set_core_object_array('drawables', img.get_layers())
    cfg.set_property('kernel', kernel)
    cfg.set_property('stride', S)
    status = proc.run(cfg).index(0)
    assert status == Gimp.PDBStatusType.SUCCESS, status


def scale(img, interpolation):
    Gimp.context_push()
    Gimp.context_set_interpolation(interpolation)
    assert img.scale(W * S, H * S)
    Gimp.context_pop()


METHODS = [
    ('plug-in learned', lambda img: plugin(img, 'learned')),
    ('plug-in adaptive', lambda img: plugin(img, 'adaptive')),
    ('plug-in adaptive, undo on', lambda img: (img.undo_enable(), plugin(img, 'adaptive'))),
    # as from the dialog: undo on, so GIMP also scales every pixel before they are replaced
    ('plug-in learned, undo on', lambda img: (img.undo_enable(), plugin(img, 'learned'))),
    ('plug-in learned-small', lambda img: plugin(img, 'learned-small')),
    ('plug-in bicubic', lambda img: plugin(img, 'bicubic')),
    ('gimp-image-scale NoHalo', lambda img: scale(img, Gimp.InterpolationType.NOHALO)),
    ('gimp-image-scale NoHalo, undo on',
     lambda img: (img.undo_enable(), scale(img, Gimp.InterpolationType.NOHALO))),
    ('gimp-image-scale LoHalo', lambda img: scale(img, Gimp.InterpolationType.LOHALO)),
    ('gimp-image-scale cubic', lambda img: scale(img, Gimp.InterpolationType.CUBIC)),
    ('gimp-image-scale cubic, undo on',
     lambda img: (img.undo_enable(), scale(img, Gimp.InterpolationType.CUBIC))),
]

ONLY = [w for w in os.environ.get('TCONV_BENCH_METHODS', '').split(',') if w]
for name, run in METHODS:
    if ONLY and not any(w in name for w in ONLY):
        continue
    times = []
    for _ in range(REPEAT):
        img = base.duplicate()
        img.undo_disable()
        t0 = time.monotonic()
        run(img)
        times.append(time.monotonic() - t0)
        assert (img.get_width(), img.get_height()) == (W * S, H * S)
        img.delete()
    print('BENCH %-32s %6.2f s  (runs: %s)' % (name, statistics.median(times),
                                               ', '.join('%.2f' % t for t in times)),
          flush=True)
base.delete()
print('TAP # done', flush=True)
