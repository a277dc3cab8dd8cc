#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Integration tests of the GIMP 3 plug-in in a real GIMP, one Debian suite per run (the
# meson suites gimp3.0 and gimp3.2): trixie has GIMP 3.0, forky GIMP 3.2. In that suite's
# chroot (host.sh) it builds and installs tconv and the plug-in, runs the batch tests
# (test-plugin.py, test-cancel.py), the dialog test under Xvfb (test-dialog.sh), then the
# installs users make (install-inside.sh: per-user folder as a non-root user, the .gex;
# on trixie a build needing a newer GIMP, on forky the Flatpak tree). On forky it also
# builds the plug-in in the trixie chroot and runs the batch tests in GIMP 3.2 with that
# same binary (one binary for 3.0 and 3.2). Prints TAP.
#
#   test-plugin.sh SUITE   trixie (default) or forky; any suite with GIMP 3 works
#
#   TCONV_GIMP3_ARTIFACTS  folder for logs, screenshots and the reusable builds, one
#                          subfolder per suite (default /tmp/tconv-gimp3/SUITE);
#                          SUITE/dialog.png is the dialog's screenshot
#   TCONV_SKIP_GIMP3=1     skip; TCONV_SKIP_DIALOG=1 skips only the Xvfb test
#   TCONV_PLUGIN_BENCH=1   also run the 12-megapixel benchmark (bench-plugin.py)
#   TCONV_BENCH_THP        on (default), off (no transparent huge pages, no-thp.py) or
#                          "on off": the benchmark once per setting
#   TCONV_SKIP_INSTALL_TESTS=1  skip install-inside.sh and the one-binary test (for
#                          benchmark runs)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SUITE=${1:-trixie}
if [[ ${TCONV_SKIP_GIMP3:-0} == 1 ]]; then echo "1..0 # SKIP TCONV_SKIP_GIMP3=1"; exit 0; fi
if [[ $(id -u) != 0 ]]; then echo "1..0 # SKIP needs root for the GIMP 3 chroot"; exit 0; fi

ART=${TCONV_GIMP3_ARTIFACTS:-/tmp/tconv-gimp3}/$SUITE
mkdir -p "$ART" || { echo "1..0 # SKIP cannot create $ART"; exit 0; }
ART=$(cd "$ART" && pwd -P)

n=0 failed=0
result() {  # result ok|not-ok DESCRIPTION
  n=$((n + 1))
  if [[ $1 == ok ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
ensure() {  # ensure SUITE
  local t0=$SECONDS
  if ! "$HERE/host.sh" --suite "$1" ensure >"$ART/ensure-$1.log" 2>&1; then
    result not-ok "host.sh --suite $1 ensure builds the GIMP 3 chroot"
    tail -n 30 "$ART/ensure-$1.log" | sed 's/^/#   /'
    return 1
  fi
  result ok "host.sh --suite $1 ensure: the chroot is ready, GIMP $("$HERE/host.sh" --suite "$1" gimp-version) ($((SECONDS - t0)) s)"
}
inside() {  # inside SUITE LOG SCRIPT [ARG...]: run a script in the chroot, numbering its TAP
  local suite=$1 log=$2 line
  shift 2
  while IFS= read -r line; do
    case $line in
      "TAP ok - "*) result ok "${line#TAP ok - }" ;;
      "TAP not ok - "*) result not-ok "${line#TAP not ok - }" ;;
      "TAP # "*) echo "# ${line#TAP # }" ;;
      BENCH*) echo "# $line" ;;
    esac
  done < <(TCONV_GIMP3_OUT=${OUT_DIR:-$ART} "$HERE/host.sh" --suite "$suite" run sh "$@" 2>"$ART/$log")
}

main() {
  t0=$SECONDS
  ensure "$SUITE" || { echo "1..$n"; return 1; }

  # Pass the knobs through (host.sh passes TCONV_* but not TCONV_GIMP3_*).
  export TCONV_SKIP_DIALOG=${TCONV_SKIP_DIALOG:-0} TCONV_PLUGIN_BENCH=${TCONV_PLUGIN_BENCH:-0}
  if [[ ${TCONV_PLUGIN_BENCH:-0} == 1 ]]; then
    echo "# transparent huge pages on this machine: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
  fi
  inside "$SUITE" host.log /src/tests/gimp3/plugin-inside.sh
  if ((n < 20)); then
    result not-ok "the plug-in tests ran (only $n results; see $ART/*.log)"
    tail -n 20 "$ART/host.log" | sed 's/^/#   /'
  fi

  if [[ ${TCONV_SKIP_INSTALL_TESTS:-0} == 1 ]]; then
    echo "# TCONV_SKIP_INSTALL_TESTS=1: install, .gex, Flatpak and one-binary tests skipped"
  elif [[ $SUITE == trixie ]]; then
    inside "$SUITE" install.log /src/tests/gimp3/install-inside.sh min-version user gex
  else
    inside "$SUITE" install.log /src/tests/gimp3/install-inside.sh user gex flatpak
    # One binary for both: built against GIMP 3.0, run by GIMP 3.2.
    # The trixie build lives in SUITE/one-binary, which the forky run sees at /work-out.
    mkdir -p "$ART/one-binary"
    if ensure trixie; then
      OUT_DIR=$ART/one-binary inside trixie one-binary-build.log /src/tests/gimp3/one-binary-inside.sh build
      inside "$SUITE" one-binary-run.log /src/tests/gimp3/one-binary-inside.sh run
    fi
  fi

  echo "# artifacts (logs, dialog.png, dialog-screen.png, dialog-undone.png): $ART"
  echo "# $((SECONDS - t0)) s in all"
  echo "1..$n"
  ((failed == 0))
}
main; exit  # on one line: bash must not read on if this file is edited while running
