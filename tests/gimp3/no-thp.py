# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs a command without transparent huge pages, for it and every process it starts
(prctl PR_SET_THP_DISABLE, which fork and exec keep), whatever the machine's setting:
    python3 no-thp.py COMMAND [ARG...]
The benchmark uses it to time GIMP and the plug-in as on a machine without huge pages."""
import ctypes
import os
import sys

PR_SET_THP_DISABLE = 41

libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) != 0:
    sys.exit("no-thp.py: prctl(PR_SET_THP_DISABLE) failed: " + os.strerror(ctypes.get_errno()))
os.execvp(sys.argv[1], sys.argv[1:])
