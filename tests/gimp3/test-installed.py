# SPDX-License-Identifier: GPL-3.0-or-later
# Runs in GIMP (python-fu-eval batch) after the plug-in was installed some other way than
# into the test profile (per-user folder, .gex, Flatpak tree; tests/gimp3/install-inside.sh):
# checks GIMP registered it from the expected file and that it works there.
# TCONV_EXPECT_PLUGIN is that file's path. Prints TAP lines like test-plugin.py.
import os
import re

import gi
gi.require_version('Gimp', '3.0')
gi.require_version('Gegl', '0.4')
from gi.repository import Gimp, Gegl  # noqa: E402

PROC_NAME = 'plug-in-tconv-upscale'
WHAT = os.environ.get('TCONV_INSTALL_KIND', 'installed')


def tap(ok, name, diag=None):
    print('TAP %s - %s' % ('ok' if ok else 'not ok', name), flush=True)
    for line in ([] if ok or not diag else str(diag).splitlines()):
        print('TAP #   ' + line, flush=True)
    return ok


want = os.environ['TCONV_EXPECT_PLUGIN']
rc = os.path.join(Gimp.directory(), 'pluginrc')
with open(rc, encoding='utf-8', errors='replace') as f:
    # GIMP writes the path as a string; it may abbreviate the profile as ${gimp_dir}.
    defs = [p.replace('${gimp_dir}', Gimp.directory())
            for p in re.findall(r'\(plug-in-def "([^"]*tconv-upscale[^"]*)"', f.read())]
tap(defs == [want], '%s: GIMP %s registered the plug-in from %s' % (WHAT, Gimp.version(), want),
    'pluginrc (%s) names %s' % (rc, defs))

proc = Gimp.get_pdb().lookup_procedure(PROC_NAME)
if tap(proc is not None, '%s: %s is in the PDB' % (WHAT, PROC_NAME)):
    img = Gimp.Image.new(40, 30, Gimp.ImageBaseType.RGB)
    layer = Gimp.Layer.new(img, 'l', 40, 30, Gimp.ImageType.RGB_IMAGE, 100,
                           Gimp.LayerMode.NORMAL)
    img.insert_layer(layer, None, 0)
    cfg = proc.create_config()
    cfg.set_property('run-mode', Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property('image', img)
    cfg.set_core_object_array('drawables', [layer])
    cfg.set_property('kernel', 'learned')  # a preset file from the installed folder
    res = proc.run(cfg)
    ok = res.index(0) == Gimp.PDBStatusType.SUCCESS
    tap(ok and (img.get_width(), img.get_height()) == (80, 60),
        '%s: the plug-in up-samples with its learned preset: 40x30 -> %dx%d'
        % (WHAT, img.get_width(), img.get_height()),
        res.index(1) if res.length() > 1 and not ok else None)
    img.delete()
print('TAP # done', flush=True)
