#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Integration tests of the GIMP 3 plug-in in a real GIMP 3.0 (Debian 13 chroot, host.sh):
# builds and installs tconv and the plug-in inside the chroot, runs the batch tests with
# gimp-console-3.0 (tests/gimp3/test-plugin.py, test-cancel.py) and the dialog test under
# Xvfb (test-dialog.sh). Prints TAP.
#
#   TCONV_GIMP3_ARTIFACTS  folder for logs, screenshots and the reusable build
#                          (default /tmp/tconv-gimp3); dialog.png is the dialog's screenshot
#   TCONV_SKIP_GIMP3=1     skip; TCONV_SKIP_DIALOG=1 skips only the Xvfb test
#   TCONV_PLUGIN_BENCH=1   also run the 12-megapixel benchmark (bench-plugin.py)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
if [[ ${TCONV_SKIP_GIMP3:-0} == 1 ]]; then echo "1..0 # SKIP TCONV_SKIP_GIMP3=1"; exit 0; fi
if [[ $(id -u) != 0 ]]; then echo "1..0 # SKIP needs root for the GIMP 3 chroot"; exit 0; fi

ART=${TCONV_GIMP3_ARTIFACTS:-/tmp/tconv-gimp3}
mkdir -p "$ART" || { echo "1..0 # SKIP cannot create $ART"; exit 0; }
ART=$(cd "$ART" && pwd -P)

n=0 failed=0
result() {  # result ok|not-ok DESCRIPTION
  n=$((n + 1))
  if [[ $1 == ok ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

t0=$SECONDS
if ! "$HERE/host.sh" ensure >"$ART/ensure.log" 2>&1; then
  result not-ok "host.sh ensure builds the GIMP 3 chroot"
  tail -n 30 "$ART/ensure.log" | sed 's/^/#   /'
  echo "1..$n"
  exit 1
fi
result ok "host.sh ensure: the GIMP 3 chroot is ready ($((SECONDS - t0)) s)"

# Pass the knobs through (host.sh passes TCONV_* but not TCONV_GIMP3_*).
export TCONV_SKIP_DIALOG=${TCONV_SKIP_DIALOG:-0} TCONV_PLUGIN_BENCH=${TCONV_PLUGIN_BENCH:-0}
while IFS= read -r line; do
  case $line in
    "TAP ok - "*) result ok "${line#TAP ok - }" ;;
    "TAP not ok - "*) result not-ok "${line#TAP not ok - }" ;;
    "TAP # "*) echo "# ${line#TAP # }" ;;
    BENCH*) echo "# $line" ;;
  esac
done < <(TCONV_GIMP3_OUT=$ART "$HERE/host.sh" run sh /src/tests/gimp3/plugin-inside.sh 2>"$ART/host.log")

if ((n < 20)); then
  result not-ok "the plug-in tests ran (only $n results; see $ART/*.log)"
  tail -n 20 "$ART/host.log" | sed 's/^/#   /'
fi
echo "# artifacts (logs, dialog.png, dialog-screen.png, dialog-undone.png): $ART"
echo "# $((SECONDS - t0)) s in all"
echo "1..$n"
exit $((failed > 0))
