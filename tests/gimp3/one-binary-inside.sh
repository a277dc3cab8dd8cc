#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# One binary for GIMP 3.0 and 3.2 (tests/gimp3/test-plugin.sh forky): what a user downloads
# is built once, against the oldest GIMP it supports.
#
#   one-binary-inside.sh build   in the GIMP 3.0 chroot, /work-out = SUITE/one-binary:
#                                build the plug-in, stage its folder in /work-out/stage
#   one-binary-inside.sh run     in the GIMP 3.2 chroot, /work-out = SUITE: install that
#                                same folder into the profile, run the batch tests
#                                (test-plugin.py) with it; this suite's tconv is the reference
# Prints TAP lines like plugin-inside.sh.
set -u
OUT=/work-out
TIMEOUT=${TCONV_PLUGIN_TIMEOUT:-420}

tap() {
  if [ "$1" = 0 ]; then echo "TAP ok - $2"; return 0; fi
  echo "TAP not ok - $2"
  [ -z "${3:-}" ] || [ ! -f "$3" ] || tail -n 30 "$3" | sed 's/^/TAP #   /'
  return 1
}

case ${1:-} in
build)
  B=$OUT/build
  { [ -f "$B/build.ninja" ] || meson setup "$B" /src -Dtests=disabled -Dplugindir=/plugin; } \
    >"$OUT/build.log" 2>&1 &&
    ninja -C "$B" >>"$OUT/build.log" 2>&1 && rm -rf "$OUT/stage" &&
    meson install -C "$B" --no-rebuild --tags plugin --destdir "$OUT/stage" >>"$OUT/build.log" 2>&1 &&
    sha256sum <"$OUT/stage/plugin/tconv-upscale/tconv-upscale" >"$OUT/stage/sha256"
  tap $? "the plug-in built against GIMP $(pkg-config --modversion gimp-3.0) ($TCONV_GIMP_CONSOLE) and staged" "$OUT/build.log"
  ;;
run)
  S=$OUT/one-binary/stage
  P=$GIMP3_DIRECTORY/plug-ins/tconv-upscale
  rm -rf "$P" && mkdir -p "$GIMP3_DIRECTORY/plug-ins" && cp -a "$S/plugin/tconv-upscale" "$P" &&
    [ "$(sha256sum <"$P/tconv-upscale")" = "$(cat "$S/sha256")" ]
  tap $? "the GIMP 3.0 build's tconv-upscale (sha256 $(cut -c1-12 "$S/sha256")) installed unchanged into GIMP $TCONV_GIMP_VERSION's profile" ||
    exit 0
  export TCONV="$OUT/build/cli/tconv" TCONV_SRC=/src TCONV_WORK=/tmp/work
  mkdir -p "$TCONV_WORK"
  # the user's own preset that test-plugin.py looks for, as plugin-inside.sh puts it
  USER_PRESETS=${XDG_DATA_HOME:-$HOME/.local/share}/tconv/presets
  mkdir -p "$USER_PRESETS" && cp /src/tests/gimp3/data/mykernel-x2.tconv "$USER_PRESETS/"
  timeout -k 10 "$TIMEOUT" "$TCONV_GIMP_CONSOLE" -i --quit --batch-interpreter=python-fu-eval \
    -b - </src/tests/gimp3/test-plugin.py >"$OUT/one-binary-batch.log" 2>&1
  rc=$?
  grep '^TAP ' "$OUT/one-binary-batch.log" | grep -v '^TAP # done' |
    sed 's/^TAP \(not \)\{0,1\}ok - /&3.0 binary in GIMP '"$TCONV_GIMP_VERSION"': /'
  grep -q '^TAP # done' "$OUT/one-binary-batch.log"
  tap $? "the batch tests ran to the end in $TCONV_GIMP_CONSOLE with the GIMP 3.0 build (rc $rc)" \
    "$OUT/one-binary-batch.log"
  ;;
*) tap 1 "one-binary-inside.sh: say build or run" ;;
esac
exit 0
