#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Does what flatpak-builder does with packaging/flatpak/*.json, short of the Flatpak
runtimes (which cannot be fetched here), and checks the result is what GIMP's Flatpak loads.

The manifest must follow flathub's GIMP 3 plug-in extensions (org.gimp.GIMP.Plugin.*):
branch 3, runtime org.gimp.GIMP//stable, an org.gnome.Sdk, build-extension, prefix
/app/extensions/<Name>. Its meson module is configured with the prefix and config-opts,
built, installed into STAGE (DESTDIR), post-install runs with FLATPAK_DEST in the build
folder (a child of the source, as flatpak-builder's _flatpak_build), then cleanup. GIMP's
Flatpak merges each extension's plug-ins/ into /app/extensions/plug-ins and reads plug-ins
as <name>/<name>; the AppStream file must be share/metainfo/<id>.metainfo.xml; flathub wants
the licence in share/licenses/. Nothing else may be in the tree.

usage: flatpak-stage.py SRC BUILD STAGE      (prints TAP lines for install-inside.sh)
"""
import fnmatch
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

SRC, BUILD, STAGE = sys.argv[1:4]
failed = 0


def tap(ok, name, diag=None):
    global failed
    failed += not ok
    print('TAP %s - %s' % ('ok' if ok else 'not ok', name), flush=True)
    for line in ([] if ok or not diag else str(diag).splitlines()[-20:]):
        print('TAP #   ' + line, flush=True)
    return ok


manifests = glob.glob(os.path.join(SRC, 'packaging/flatpak/*.json'))
if not tap(len(manifests) == 1, 'one Flatpak manifest in packaging/flatpak', manifests):
    sys.exit(1)
with open(manifests[0]) as f:
    m = json.load(f)
ext_id = m.get('id', '')
prefix = m.get('build-options', {}).get('prefix', '')
name = prefix.rsplit('/', 1)[-1]
tap(os.path.basename(manifests[0]) == ext_id + '.json' and ext_id.startswith('org.gimp.GIMP.Plugin.')
    and m.get('branch') == '3' and m.get('runtime') == 'org.gimp.GIMP'
    and m.get('runtime-version') == 'stable' and m.get('build-extension') is True
    and re.fullmatch(r'org\.gnome\.Sdk//\d+', m.get('sdk', '')) is not None
    and re.fullmatch(r'/app/extensions/[A-Za-z0-9]+', prefix) is not None,
    'the manifest is a GIMP 3 plug-in extension: %s, branch %s, runtime %s//%s, sdk %s, prefix %s'
    % (ext_id, m.get('branch'), m.get('runtime'), m.get('runtime-version'), m.get('sdk'), prefix))
metainfo = ET.parse(os.path.join(SRC, 'plug-in/tconv-upscale.metainfo.xml')).getroot()
tap(metainfo.findtext('id') == ext_id,
    'the metainfo <id> is the extension id (%s)' % metainfo.findtext('id'))

(mod,) = [x for x in m['modules'] if x.get('buildsystem') == 'meson']
# flatpak-builder builds in <source>/_flatpak_build; the source here is read-only, so the
# build folder's parent is a farm of links to it.
farm = os.path.join(BUILD, 'src')
build = os.path.join(farm, '_flatpak_build')
if not os.path.exists(os.path.join(build, 'build.ninja')):
    shutil.rmtree(BUILD, ignore_errors=True)
    os.makedirs(build)
    for entry in os.listdir(SRC):
        os.symlink(os.path.join(SRC, entry), os.path.join(farm, entry))
    subprocess.run(['meson', 'setup', build, SRC, '--prefix=' + prefix, '--libdir=lib']
                   + mod.get('config-opts', []), check=True)
subprocess.run(['ninja', '-C', build], check=True)
shutil.rmtree(STAGE, ignore_errors=True)
subprocess.run(['meson', 'install', '-C', build, '--no-rebuild', '--destdir', STAGE], check=True)
dest = STAGE + prefix
for cmd in mod.get('post-install', []):
    subprocess.run(cmd, shell=True, check=True, cwd=build, env=dict(os.environ, FLATPAK_DEST=dest))
for pattern in m.get('cleanup', []) + mod.get('cleanup', []):
    for path in glob.glob(dest + pattern):
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)

found = set()
for d, dirs, files in os.walk(STAGE):
    for n in files:
        found.add(os.path.relpath(os.path.join(d, n), dest))
presets = {'plug-ins/tconv-upscale/presets/' + n for n in os.listdir(os.path.join(SRC, 'presets'))
           if n.endswith('.tconv')}
helps = {os.path.join('plug-ins/tconv-upscale', os.path.relpath(os.path.join(d, n), os.path.join(SRC, 'plug-in')))
         for d, _, ns in os.walk(os.path.join(SRC, 'plug-in/help')) for n in ns}
want = presets | helps | {
    'plug-ins/tconv-upscale/tconv-upscale',
    'share/metainfo/%s.metainfo.xml' % ext_id,
    'share/licenses/tconv-upscale/COPYING',
}
tap(found == want,
    'the staged tree is exactly %d files under %s: plug-ins/tconv-upscale/tconv-upscale, '
    '%d presets, %d help files, share/metainfo/%s.metainfo.xml, share/licenses/tconv-upscale/COPYING'
    % (len(want), prefix, len(presets), len(helps), ext_id),
    'missing: %s\nunexpected: %s' % (sorted(want - found), sorted(found - want)))
binary = os.path.join(dest, 'plug-ins/tconv-upscale/tconv-upscale')
tap(os.access(binary, os.X_OK), 'the plug-in is executable at plug-ins/tconv-upscale/tconv-upscale')
sys.exit(0)  # failures are in the TAP lines; a crash exits non-zero
