#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Builds the plug-in's .gex, GIMP's own extension package (plug-in/meson.build, target
`gex`): a zip holding one folder named after the extension id, with <id>.metainfo.xml and
the plug-in folder exactly as `meson install --tags plugin` lays it out.

GIMP's rules (app/file-data/file-data-gex.c, app/core/gimpextension.c), checked here so a
bad package fails the build rather than the user's install: no absolute path, no file at
the root, one top folder equal to the AppStream <id>, a component of type "addon" that
extends org.gimp.GIMP, requires org.gimp.GIMP with a version and has a <release> with a
version; every GIMP::plug-in-path is a relative regular file inside the folder.

usage: make-gex.py MESON BUILD-DIR PLUGIN-DIR METAINFO OUTPUT
"""
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zipfile

EPOCH = (2000, 1, 1, 0, 0, 0)  # fixed times: the same inputs give the same bytes


def unix_mode_extra(mode):
    """libarchive's 'xl' extra field (0x6c78): "version made by" (Unix) and the external
    attributes in the local header. GIMP reads the .gex as a stream, where libarchive
    sees only local headers; without this field every file is unpacked 0664 and GIMP
    finds no executable plug-in."""
    return struct.pack('<HHBHI', 0x6c78, 7, 0x01 | 0x04, (3 << 8) | 20, mode << 16)


def fail(msg):
    sys.exit('make-gex: ' + msg)


def check_metainfo(path):
    root = ET.parse(path).getroot()
    if root.tag != 'component' or root.get('type') != 'addon':
        fail('%s: the component must be of type "addon"' % path)
    cid = (root.findtext('id') or '').strip()
    if not cid or '/' in cid:
        fail('%s: <id> %r must be a non-empty name without "/"' % (path, cid))
    if 'org.gimp.GIMP' not in [e.text.strip() for e in root.findall('extends') if e.text]:
        fail('%s: must <extends>org.gimp.GIMP</extends>' % path)
    req = [e for e in root.findall('requires/id') if (e.text or '').strip() == 'org.gimp.GIMP']
    if not req or not req[0].get('version'):
        fail('%s: needs <requires><id version=...>org.gimp.GIMP</id></requires>' % path)
    if not [r for r in root.findall('releases/release') if r.get('version')]:
        fail('%s: needs a <release version=...>' % path)
    paths = [v.text.strip() for v in root.findall('custom/value')
             if v.get('key') == 'GIMP::plug-in-path' and v.text]
    if not paths:
        fail('%s: no <custom><value key="GIMP::plug-in-path"> (GIMP would load no plug-in)' % path)
    return cid, [p for value in paths for p in value.split(':')]


def main():
    if len(sys.argv) != 6:
        fail('usage: make-gex.py MESON BUILD-DIR PLUGIN-DIR METAINFO OUTPUT')
    meson, build, plugin_dir, metainfo, output = sys.argv[1:]
    cid, plug_in_paths = check_metainfo(metainfo)
    with tempfile.TemporaryDirectory() as stage:
        subprocess.run([meson, 'install', '-C', build, '--no-rebuild', '--quiet',
                        '--tags', 'plugin', '--destdir', stage], check=True,
                       stdout=subprocess.DEVNULL)
        src = os.path.join(stage, plugin_dir.lstrip('/'))
        name = os.path.basename(plugin_dir.rstrip('/'))
        files = {cid + '/' + cid + '.metainfo.xml': metainfo}
        for d, _, names in os.walk(src):
            for n in names:
                full = os.path.join(d, n)
                files['%s/%s/%s' % (cid, name, os.path.relpath(full, src))] = full
        for p in plug_in_paths:
            if os.path.isabs(p) or '..' in p.split('/') or cid + '/' + p not in files:
                fail('GIMP::plug-in-path %r is no file of the package' % p)
        tmp = output + '.tmp'
        with zipfile.ZipFile(tmp, 'w', zipfile.ZIP_DEFLATED) as z:
            for arc in sorted(files):
                info = zipfile.ZipInfo(arc, EPOCH)
                info.create_system = 3  # Unix: keeps the executable bit (GIMP extracts with it)
                mode = 0o100755 if os.access(files[arc], os.X_OK) else 0o100644
                info.external_attr = mode << 16
                info.extra = unix_mode_extra(mode)
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(files[arc], 'rb') as f:
                    z.writestr(info, f.read())
        os.replace(tmp, output)


main()
