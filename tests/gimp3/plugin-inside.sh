#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs inside the GIMP 3 chroot (tests/gimp3/test-plugin.sh calls it through `host.sh run`):
# builds tconv and the plug-in with meson, installs the plug-in into the run's throw-away GIMP
# profile, then runs the batch tests (test-plugin.py), the cancel test and the dialog test
# under Xvfb (test-cancel.sh, test-dialog.sh). Prints "TAP ok - ..." / "TAP not ok - ..." / "TAP # ..." lines
# for the driver to number; everything else goes to logs in /work-out.
#
# /work-out is the host's artifacts folder: the build folder there is reused by the next run.
set -u
OUT=/work-out
B=$OUT/build
PLUGDIR=$GIMP3_DIRECTORY/plug-ins
TIMEOUT=${TCONV_PLUGIN_TIMEOUT:-420}

tap() {  # tap STATUS DESCRIPTION [LOG]: STATUS 0 passes; a failure shows the log's tail
  if [ "$1" = 0 ]; then echo "TAP ok - $2"; return 0; fi
  echo "TAP not ok - $2"
  [ -z "${3:-}" ] || [ ! -f "$3" ] || tail -n 30 "$3" | sed 's/^/TAP #   /'
  return 1
}
secs() { echo $(($(date +%s) - $1)); }

# ---- build and install ----
t0=$(date +%s)
rc=0
if [ ! -f "$B/build.ninja" ]; then
  meson setup "$B" /src -Dplugindir="$PLUGDIR" -Dprefix=/tmp/prefix -Dtests=disabled \
    >"$OUT/meson-setup.log" 2>&1 || rc=$?
else
  meson configure "$B" -Dplugindir="$PLUGDIR" -Dprefix=/tmp/prefix >"$OUT/meson-setup.log" 2>&1 ||
    rc=$?
fi
[ $rc = 0 ] && { ninja -C "$B" >"$OUT/ninja.log" 2>&1 || rc=$?; }
tap $rc "meson builds tconv and the plug-in against GIMP $(pkg-config --modversion gimp-3.0) ($(secs "$t0") s, GIMP binary $TCONV_GIMP_CONSOLE)" "$OUT/ninja.log" ||
  exit 1
grep -E 'plug-in/.*warning' "$OUT/ninja.log" | sed 's/^/TAP # /'
tap "$(grep -c -E 'plug-in/.*warning' "$OUT/ninja.log" | grep -qx 0; echo $?)" \
  "the plug-in compiles without warnings (warning_level=3)"

rc=0
meson install -C "$B" --no-rebuild >"$OUT/meson-install.log" 2>&1 || rc=$?
P=$PLUGDIR/tconv-upscale
[ $rc = 0 ] && [ -x "$P/tconv-upscale" ] && [ -f "$P/presets/learned-x2.tconv" ] &&
  [ -f "$P/help/en/gimp-help.xml" ] &&
  [ -f /tmp/prefix/share/metainfo/org.gimp.GIMP.Plugin.TconvUpscale.metainfo.xml ]
tap $? "meson install puts plug-ins/tconv-upscale/tconv-upscale, its presets and help in the profile" \
  "$OUT/meson-install.log"

# ---- without the command: pipeline/ is built for the plug-in alone ----
t0=$(date +%s)
rc=0
NB=$OUT/build-nocli
if [ ! -f "$NB/build.ninja" ]; then
  meson setup "$NB" /src -Dcli=disabled -Dtests=disabled >"$OUT/nocli-setup.log" 2>&1 || rc=$?
fi
[ $rc = 0 ] && { ninja -C "$NB" >"$OUT/nocli-ninja.log" 2>&1 || rc=$?; }
[ $rc = 0 ] && [ -x "$NB/plug-in/tconv-upscale" ] && [ ! -e "$NB/cli/tconv" ]
tap $? "meson setup -Dcli=disabled builds the plug-in and not the command ($(secs "$t0") s)" \
  "$OUT/nocli-ninja.log"

# ---- batch tests ----
export TCONV="$B/cli/tconv" TCONV_SRC=/src TCONV_WORK=/tmp/work
mkdir -p "$TCONV_WORK"
# A user's own preset, in the user's preset folder before GIMP first queries the plug-in:
# test-plugin.py checks that the "kernel" choice offers it and that it runs.
USER_PRESETS=${XDG_DATA_HOME:-$HOME/.local/share}/tconv/presets
mkdir -p "$USER_PRESETS"
cp /src/tests/gimp3/data/mykernel-x2.tconv "$USER_PRESETS/"
launch=  # a command to start GIMP through (the benchmark's no-thp.py), or nothing
gimp_batch() {  # gimp_batch LOG FILE.py [ENV=VALUE...]
  log=$1 py=$2
  shift 2
  $launch env "$@" timeout -k 10 "$TIMEOUT" "$TCONV_GIMP_CONSOLE" -i --quit \
    --batch-interpreter=python-fu-eval -b - <"$py" >"$log" 2>&1
}

t0=$(date +%s)
gimp_batch "$OUT/batch.log" /src/tests/gimp3/test-plugin.py
rc=$?
grep '^TAP ' "$OUT/batch.log"
grep -q '^TAP # done' "$OUT/batch.log"
tap $? "the batch tests ran to the end in $TCONV_GIMP_CONSOLE (rc $rc, $(secs "$t0") s)" "$OUT/batch.log"

# GIMP's own Cancel, clicked under Xvfb (test-cancel.sh drives test-cancel.py)
sh /src/tests/gimp3/test-cancel.sh

# ---- dialog under Xvfb ----
if [ "${TCONV_SKIP_DIALOG:-0}" != 1 ]; then
  sh /src/tests/gimp3/test-dialog.sh
fi

# ---- benchmark (on request: it takes a few minutes) ----
# TCONV_BENCH_THP: "on" (default: huge pages as the machine gives them), "off" (GIMP and its
# plug-ins run with transparent huge pages disabled, no-thp.py), or "on off": one GIMP session
# for each.
if [ "${TCONV_PLUGIN_BENCH:-0}" = 1 ]; then
  for thp in ${TCONV_BENCH_THP:-on}; do
    case $thp in
      on) launch= ;;
      off) launch="python3 /src/tests/gimp3/no-thp.py" ;;
      *) echo "TAP not ok - TCONV_BENCH_THP='$thp': each word must be on or off"; continue ;;
    esac
    gimp_batch "$OUT/bench-thp-$thp.log" /src/tests/gimp3/bench-plugin.py
    grep '^TAP \|^BENCH' "$OUT/bench-thp-$thp.log"
  done
  launch=
fi
exit 0
