#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The ways a user installs the plug-in, inside the GIMP 3 chroot (tests/gimp3/test-plugin.sh
# runs it through `host.sh run` after plugin-inside.sh). Each builds from /src in its own
# folder under /work-out, installs as documented in docs/gimp.md, then starts GIMP and runs
# the plug-in from where it was installed (test-installed.py). Prints TAP lines like
# plugin-inside.sh.
#
#   install-inside.sh user       meson install --tags plugin with -Dplugindir=user, as a
#                                non-root user, into ~/.config/GIMP/<version>/plug-ins
#   install-inside.sh gex        the .gex from `ninja gex`, installed by GIMP's own
#                                file-gex-load (what opening the file does), as that user
#   install-inside.sh flatpak    the Flatpak manifest's install into a staging folder: the
#                                tree must be exactly what GIMP's Flatpak loads, and GIMP
#                                runs the plug-in from the merged extensions/plug-ins
#   install-inside.sh min-version  a build whose minimum GIMP is above this one: GIMP must
#                                say so in its console and not register the filter
set -u
OUT=/work-out
TIMEOUT=${TCONV_PLUGIN_TIMEOUT:-420}
V=$TCONV_GIMP_VERSION
U=/tmp/user   # the non-root user's home (uid 1000, no root rights, no GIMP3_DIRECTORY)
ID=org.gimp.GIMP.Plugin.TconvUpscale

tap() {  # as in plugin-inside.sh
  if [ "$1" = 0 ]; then echo "TAP ok - $2"; return 0; fi
  echo "TAP not ok - $2"
  [ -z "${3:-}" ] || [ ! -f "$3" ] || tail -n 30 "$3" | sed 's/^/TAP #   /'
  return 1
}
secs() { echo $(($(date +%s) - $1)); }

as_user() {  # as_user CMD...: run as uid 1000 with a per-user GIMP profile, as users have
  setpriv --reuid=1000 --regid=1000 --clear-groups \
    env -u GIMP3_DIRECTORY HOME=$U XDG_RUNTIME_DIR=$U/run "$@"
}
user_home() {
  # A user who has run this GIMP before: the warm profile the test host keeps (so GIMP
  # need not query every plug-in again), in GIMP's per-user place.
  mkdir -p $U/run $U/.config/GIMP
  chmod 700 $U/run
  [ -d "$U/.config/GIMP/$V" ] || cp -a /tmp/gimp3-profile "$U/.config/GIMP/$V"
  chown -R 1000:1000 $U
}
build() {  # build DIR [MESON-OPTION...]: configure once (kept for the next run), then ninja
  b=$1
  shift
  if [ ! -f "$b/build.ninja" ]; then
    meson setup "$b" /src -Dtests=disabled "$@" >"$b.log" 2>&1 || return 1
  fi
  ninja -C "$b" >>"$b.log" 2>&1
}
gimp_py() {  # gimp_py LOG PY [PREFIX-CMD...]: python-fu batch, e.g. as_user; prints its TAP
  log=$1 py=$2
  shift 2
  "$@" timeout -k 10 "$TIMEOUT" "$TCONV_GIMP_CONSOLE" -i --quit \
    --batch-interpreter=python-fu-eval -b - <"$py" >"$log" 2>&1
  rc=$?
  grep '^TAP ' "$log" | grep -v '^TAP # done'
  grep -q '^TAP # done' "$log"
  tap $? "$(basename "$py") ran to the end in $TCONV_GIMP_CONSOLE (rc $rc)" "$log"
}

# ---- meson install --tags plugin, as a user ----
mode_user() {
  t0=$(date +%s)
  user_home
  b=$OUT/user-build
  mkdir -p "$b"
  chown 1000:1000 "$b"
  as_user sh -c "{ [ -f $b/build.ninja ] || meson setup $b /src -Dtests=disabled -Dplugindir=user; } &&
                 ninja -C $b && meson install -C $b --tags plugin" >"$OUT/user-install.log" 2>&1
  tap $? "as uid $(as_user id -u) (not root): meson setup -Dplugindir=user, ninja, meson install --tags plugin ($(secs "$t0") s)" \
    "$OUT/user-install.log" || return
  P=$U/.config/GIMP/$V/plug-ins/tconv-upscale
  # Every installed file is in that folder: nothing in the prefix (/usr/local).
  others=$(sed -n 's/^Installing .* to //p' "$OUT/user-install.log" | grep -v "^$P" | head -n 3)
  [ -x "$P/tconv-upscale" ] && [ -f "$P/presets/learned-x2.tconv" ] &&
    [ -f "$P/help/en/gimp-help.xml" ] && [ -z "$others" ] &&
    [ -z "$(find /usr/local -type f 2>/dev/null | head -n 1)" ]
  tap $? "it put tconv-upscale/ with presets and help into ~/.config/GIMP/$V/plug-ins and nothing elsewhere${others:+ (also: $others)}" \
    "$OUT/user-install.log"
  gimp_py "$OUT/user-gimp.log" /src/tests/gimp3/test-installed.py \
    as_user TCONV_INSTALL_KIND="per-user folder" TCONV_EXPECT_PLUGIN="$P/tconv-upscale"
}

# ---- the .gex, installed by GIMP itself ----
mode_gex() {
  t0=$(date +%s)
  user_home
  b=$OUT/user-build  # the per-user build (mode_user): the .gex does not depend on plugindir
  as_user ninja -C "$b" gex >"$OUT/gex-build.log" 2>&1
  G=$b/plug-in/tconv-upscale.gex
  tap $? "ninja gex builds $(basename "$G") ($(du -k "$G" 2>/dev/null | cut -f1) KiB, $(secs "$t0") s)" \
    "$OUT/gex-build.log" || return
  # The layout GIMP demands (file-data-gex.c): one top folder, named after the <id>.
  top=$(python3 -c 'import sys, zipfile; print(" ".join(sorted({n.split("/")[0] for n in zipfile.ZipFile(sys.argv[1]).namelist()})))' "$G")
  [ "$top" = $ID ]
  tap $? "the .gex holds one folder, named after the AppStream id ($top)"
  # Only the extension may provide the plug-in here (mode_user installed one too).
  rm -rf "$U/.config/GIMP/$V/extensions/$ID" "$U/.config/GIMP/$V/plug-ins/tconv-upscale"
  gimp_py "$OUT/gex-install.log" /src/tests/gimp3/install-gex.py \
    as_user TCONV_GEX="$G" TCONV_GEX_ID=$ID
  E=$U/.config/GIMP/$V/extensions/$ID
  [ -f "$E/$ID.metainfo.xml" ] && [ -x "$E/tconv-upscale/tconv-upscale" ]
  tap $? "GIMP unpacked it into ~/.config/GIMP/$V/extensions/$ID with the plug-in executable" \
    "$OUT/gex-install.log"
  # GIMP installs a user's extension switched off (gimpextensionmanager.c); the switch in
  # Edit > Manage Extensions writes (active yes) into extensionrc when GIMP quits. Do that.
  rc=$U/.config/GIMP/$V/extensionrc
  grep -q "\"$ID\"" "$rc" 2>/dev/null
  tap $? "GIMP lists the extension in extensionrc (switched off, as GIMP leaves it)" "$rc"
  sed -i "/\"$ID\"/{n;s/(active no)/(active yes)/}" "$rc"
  gimp_py "$OUT/gex-gimp.log" /src/tests/gimp3/test-installed.py \
    as_user TCONV_INSTALL_KIND=".gex extension" TCONV_EXPECT_PLUGIN="$E/tconv-upscale/tconv-upscale"
}

# ---- the Flatpak extension's tree ----
mode_flatpak() {
  t0=$(date +%s)
  python3 /src/tests/gimp3/flatpak-stage.py /src "$OUT/flatpak-build" "$OUT/flatpak-stage" \
    >"$OUT/flatpak-stage.log" 2>&1
  rc=$?
  grep '^TAP ' "$OUT/flatpak-stage.log"
  tap $rc "the Flatpak manifest's build and install ran into a staging folder ($(secs "$t0") s)" \
    "$OUT/flatpak-stage.log" || return
  # GIMP's Flatpak merges every extension's plug-ins/ into /app/extensions/plug-ins, which
  # its gimprc puts on the plug-in path: do the same with the staged tree.
  M=/tmp/flatpak-app/extensions
  mkdir -p $M/plug-ins
  cp -a "$OUT/flatpak-stage/app/extensions/TconvUpscale/plug-ins/." $M/plug-ins/
  printf '(plug-in-path "${gimp_dir}/plug-ins:${gimp_plug_in_dir}/plug-ins:%s")\n' $M/plug-ins \
    >>"$GIMP3_DIRECTORY/gimprc"
  gimp_py "$OUT/flatpak-gimp.log" /src/tests/gimp3/test-installed.py \
    env TCONV_INSTALL_KIND="Flatpak tree" TCONV_EXPECT_PLUGIN=$M/plug-ins/tconv-upscale/tconv-upscale
}

# ---- a GIMP older than the plug-in's minimum ----
mode_min_version() {
  t0=$(date +%s)
  b=$OUT/minver-build
  # The minimum raised above every GIMP 3 there is: the GIMP here is then "too old".
  [ -f "$b/build.ninja" ] || meson setup "$b" /src -Dtests=disabled -Dplugindir="$GIMP3_DIRECTORY/plug-ins" \
    "-Dc_args=-DUPSCALE_GIMP_MIN_MAJOR=3 -DUPSCALE_GIMP_MIN_MINOR=999 -DUPSCALE_GIMP_MIN_MICRO=0" \
    >"$OUT/minver.log" 2>&1
  ninja -C "$b" >>"$OUT/minver.log" 2>&1 && meson install -C "$b" --tags plugin >>"$OUT/minver.log" 2>&1
  tap $? "a build that needs GIMP 3.999.0 installs ($(secs "$t0") s)" "$OUT/minver.log" || return
  timeout -k 10 "$TIMEOUT" "$TCONV_GIMP_CONSOLE" -i --quit --batch-interpreter=python-fu-eval -b - \
    >"$OUT/minver-gimp.log" 2>&1 <<'PY'
from gi.repository import Gimp
print('REGISTERED', Gimp.get_pdb().lookup_procedure('plug-in-tconv-upscale') is not None)
PY
  msg=$(grep -o 'tconv-upscale needs GIMP 3.999.0 or newer; this GIMP is [0-9.]*' "$OUT/minver-gimp.log" | head -n 1)
  [ -n "$msg" ]
  tap $? "GIMP $V's console says: ${msg:-nothing}" "$OUT/minver-gimp.log"
  grep -q '^REGISTERED False' "$OUT/minver-gimp.log"
  tap $? "and the filter is not registered" "$OUT/minver-gimp.log"
  rm -rf "$GIMP3_DIRECTORY/plug-ins/tconv-upscale"
}

for mode in "$@"; do
  case $mode in
    user) mode_user ;;
    gex) mode_gex ;;
    flatpak) mode_flatpak ;;
    min-version) mode_min_version ;;
    *) tap 1 "install-inside.sh: unknown mode '$mode'" ;;
  esac
done
exit 0
