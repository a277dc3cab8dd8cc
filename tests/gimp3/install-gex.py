# SPDX-License-Identifier: GPL-3.0-or-later
# Installs the .gex $TCONV_GEX the way GIMP does when a user opens it (File ▸ Open, or
# dropping it on GIMP): GIMP's own file-gex-load procedure validates the archive, unpacks it
# into <profile>/extensions/<id>/ and registers the extension. Run by install-inside.sh.
import os

import gi
gi.require_version('Gimp', '3.0')
from gi.repository import Gimp, Gio  # noqa: E402


def tap(ok, name, diag=None):
    print('TAP %s - %s' % ('ok' if ok else 'not ok', name), flush=True)
    if not ok and diag:
        print('TAP #   %s' % diag, flush=True)


gex = os.environ['TCONV_GEX']
proc = Gimp.get_pdb().lookup_procedure('file-gex-load')
cfg = proc.create_config()
cfg.set_property('run-mode', Gimp.RunMode.NONINTERACTIVE)
cfg.set_property('file', Gio.File.new_for_path(gex))
res = proc.run(cfg)
ok = res.index(0) == Gimp.PDBStatusType.SUCCESS
tap(ok, "GIMP %s's file-gex-load installs %s" % (Gimp.version(), os.path.basename(gex)),
    Gimp.get_pdb().get_last_error())
print('TAP # done', flush=True)
