#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The minimum GIMP version is stated in three places that must agree: the plug-in's
run-time check (plug-in/upscale-main.c, UPSCALE_GIMP_MIN_*), the AppStream metainfo's
<requires> (read by GIMP for a .gex, by Flatpak and software centres) and docs/gimp.md.
Prints TAP.  usage: check-min-version.py SOURCE-ROOT"""
import os
import re
import sys
import xml.etree.ElementTree as ET

root = sys.argv[1]
with open(os.path.join(root, 'plug-in/upscale-main.c')) as f:
    c = f.read()
code = '.'.join(re.search(r'#define UPSCALE_GIMP_MIN_%s (\d+)' % part, c).group(1)
                for part in ('MAJOR', 'MINOR', 'MICRO'))
meta = ET.parse(os.path.join(root, 'plug-in/tconv-upscale.metainfo.xml')).getroot()
req = [e for e in meta.findall('requires/id') if e.text.strip() == 'org.gimp.GIMP']
meta_version = req[0].get('version') if req else None
with open(os.path.join(root, 'docs/gimp.md')) as f:
    m = re.search(r'\*\*Minimum: GIMP ([0-9.]+)\.\*\*', f.read())
doc = m.group(1) if m else None
print('1..2')
print('%s 1 - metainfo <requires> org.gimp.GIMP %s (compare=%s) equals the plug-in\'s minimum %s'
      % ('ok' if meta_version == code and req[0].get('compare') == 'ge' else 'not ok',
         meta_version, req and req[0].get('compare'), code))
print('%s 2 - docs/gimp.md says the minimum is %s' % ('ok' if doc == code else 'not ok', doc))
