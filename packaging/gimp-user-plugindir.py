#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prints the per-user plug-in folder of the GIMP 3 found on this machine, for
`meson setup -Dplugindir=user` (plug-in/meson.build).

GIMP keeps one profile per minor version (~/.config/GIMP/3.0, ~/.config/GIMP/3.2), so the
folder depends on the GIMP that will run the plug-in, not on the libgimp headers it was
built against. That GIMP is, in this order: the binary named by $GIMP; the newest
versioned gimp-console-3.N or gimp-3.N on PATH; gimp-console-3, gimp-3, gimp-console, gimp.
Its `--version` gives the minor version. GIMP3_DIRECTORY, GIMP's own override of its
profile folder, wins as GIMP's does.

usage: gimp-user-plugindir.py [FALLBACK-VERSION]   (used, with a warning, when no GIMP runs)
"""
import os
import re
import shutil
import subprocess
import sys


def candidates():
    if os.environ.get('GIMP'):
        yield os.environ['GIMP']
        return
    versioned = {}
    for d in os.environ.get('PATH', '').split(os.pathsep):
        try:
            names = os.listdir(d or '.')
        except OSError:
            continue
        for n in names:
            m = re.fullmatch(r'gimp(-console)?-3\.(\d+)(\.exe)?', n)
            if m:
                key = (int(m.group(2)), m.group(1) is not None)  # console preferred
                versioned.setdefault(key, os.path.join(d, n))
    for key in sorted(versioned, reverse=True):
        yield versioned[key]
    for n in ('gimp-console-3', 'gimp-3', 'gimp-console', 'gimp'):
        path = shutil.which(n)
        if path:
            yield path


def gimp_version():
    """(major.minor, binary) of the first GIMP 3 that answers --version, else (None, why)."""
    tried = []
    for binary in candidates():
        try:
            out = subprocess.run([binary, '--version'], capture_output=True, text=True,
                                 timeout=60).stdout
        except (OSError, subprocess.SubprocessError) as e:
            tried.append('%s (%s)' % (binary, e))
            continue
        m = re.search(r'version (\d+)\.(\d+)', out)
        if m and m.group(1) == '3':
            return '3.' + m.group(2), binary
        tried.append('%s (says %r)' % (binary, out.strip()[:80]))
    return None, 'no GIMP 3 found on PATH' + (': tried ' + ', '.join(tried) if tried else '')


def profile_root():
    if sys.platform == 'win32':
        return os.path.join(os.environ['APPDATA'], 'GIMP')
    if sys.platform == 'darwin':
        return os.path.expanduser('~/Library/Application Support/GIMP')
    return os.path.join(os.environ.get('XDG_CONFIG_HOME') or os.path.expanduser('~/.config'),
                        'GIMP')


def main():
    version, binary = gimp_version()
    if version is None:
        if len(sys.argv) < 2:
            sys.exit('gimp-user-plugindir: %s; set GIMP=/path/to/gimp-console-3.x' % binary)
        version = '.'.join(sys.argv[1].split('.')[:2])
        print('gimp-user-plugindir: %s; using the libgimp version %s' % (binary, version),
              file=sys.stderr)
    else:
        print('gimp-user-plugindir: %s is GIMP %s' % (binary, version), file=sys.stderr)
    profile = os.environ.get('GIMP3_DIRECTORY') or os.path.join(profile_root(), version)
    print(os.path.join(profile, 'plug-ins'))


main()
