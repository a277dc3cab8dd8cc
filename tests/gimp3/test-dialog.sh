#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The dialog test, inside the GIMP 3 chroot with the plug-in installed (plugin-inside.sh):
# under Xvfb, GIMP opens a real picture and the plug-in's dialog (test-dialog.py); this script
# waits for the dialog, saves screenshots to /work-out/dialog.png (the dialog) and
# /work-out/dialog-screen.png (the whole screen), presses Return (OK), checks the result,
# presses Ctrl+Z in the image window and checks that one Undo restored every drawable exactly
# (/work-out/dialog-undone.png); then screenshots the dialog at x1.5 (/work-out/dialog-x1.5.png)
# and checks that its preview holds the final result's pixels. Prints TAP lines like
# plugin-inside.sh.
#
# Without a window manager, xdotool's windowactivate fails and XSendEvent keys are ignored:
# focus the window, then send plain (XTEST) keys.
set -u
OUT=/work-out
D=/tmp/dialog

if [ -z "${DISPLAY:-}" ]; then
  rm -rf "$D" "$OUT"/dialog*.png
  mkdir -p "$D"
  exec xvfb-run -a -s "-screen 0 1600x1200x24" sh "$0" "$@"
fi

tap() {
  if [ "$1" = 0 ]; then echo "TAP ok - $2"; else echo "TAP not ok - $2"; fi
}
val() { sed -n "s/^$2 //p" "$D/$1.txt" 2>/dev/null; }
wait_for() {  # wait_for SECONDS COMMAND...: poll every 0.2 s
  n=$(($1 * 5))
  shift
  while [ $n -gt 0 ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
    n=$((n - 1))
  done
  return 1
}

t0=$(date +%s)
DIALOG_DIR=$D timeout -k 10 240 "$TCONV_GIMP_GUI" --no-splash --quit --batch-interpreter=python-fu-eval \
  -b - </src/tests/gimp3/test-dialog.py >"$OUT/dialog.log" 2>&1 &
gimp=$!

wait_for 120 test -f "$D/ready.txt"
win=
pattern='^Upscale \(Transposed Convolution\)$'  # a regular expression
if wait_for 150 xdotool search --name "$pattern"; then
  win=$(xdotool search --name "$pattern" | head -n 1)
fi
[ -n "$win" ]
tap $? "the dialog opens on a real picture ($(($(date +%s) - t0)) s after GIMP started)"

if [ -n "$win" ]; then
  sleep 4  # the preview renders after its own short delay
  import -window "$win" "$OUT/dialog.png" 2>>"$OUT/dialog.log"
  import -window root "$OUT/dialog-screen.png" 2>>"$OUT/dialog.log"
  geometry=$(xdotool getwindowgeometry "$win" | sed -n 's/.*Geometry: //p')
  [ -s "$OUT/dialog.png" ]
  tap $? "screenshot of the dialog ($geometry) saved as dialog.png"
  xdotool windowfocus --sync "$win" key Return
fi

wait_for 180 test -f "$D/applied.txt"
[ "$(val applied status)" = success ] && [ "$(val applied width)" = 1280 ] &&
  [ "$(val applied height)" = 720 ]
tap $? "OK up-samples the image: $(val applied status), $(val applied width)x$(val applied height) (was 640x360) in $(val applied seconds) s"
[ "$(val applied same_as_scripted)" = True ]
tap $? "the dialog's defaults give the same pixels as a scripted run"
[ -s "$GIMP3_DIRECTORY/plug-in-settings/GimpProcedureConfigRun-plug-in-tconv-upscale.last" ]
tap $? "last values are remembered (plug-in-settings/GimpProcedureConfigRun-plug-in-tconv-upscale.last)"

# One Ctrl+Z in the image window (its title names the image and its size).
iw=$(xdotool search --name ' – GIMP$' 2>/dev/null | head -n 1)
if [ -z "$iw" ]; then
  echo "TAP # no image window; windows:"
  for w in $(xdotool search --name '.' 2>/dev/null); do echo "TAP #   $w $(xdotool getwindowname "$w")"; done
fi
if [ -n "$iw" ]; then
  xdotool windowfocus --sync "$iw" key ctrl+z
  sleep 1.5
  import -window root "$OUT/dialog-undone.png" 2>>"$OUT/dialog.log"
fi
touch "$D/undone"
wait_for 60 test -f "$D/undo.txt"
[ -n "$iw" ] && [ "$(val undo restored)" = True ] && [ "$(val undo width)" = 640 ]
tap $? "one Ctrl+Z restores the original exactly: size $(val undo width)x$(val undo height), state $(val undo state) (before: $(val ready state), after OK: $(val applied state))"

# The dialog again at x1.5 without the NoHalo half: its preview must be the result's pixels.
win=
wait_for 60 test -f "$D/ready2.txt"
if wait_for 60 xdotool search --name "$pattern"; then
  win=$(xdotool search --name "$pattern" | head -n 1)
fi
if [ -n "$win" ]; then
  sleep 4  # the preview renders after its own short delay
  import -window "$win" "$OUT/dialog-x1.5.png" 2>>"$OUT/dialog.log"
  xdotool windowfocus --sync "$win" key Return
fi
wait_for 120 test -f "$D/preview.txt"
[ "$(val preview status)" = success ] && [ "$(val preview width)" = 960 ] &&
  [ "$(val preview found)" = True ] && [ "$(val preview unequal)" = 0 ] &&
  [ "$(val preview block | cut -dx -f1)" -ge 300 ] && [ "$(val preview block | cut -dx -f2)" -ge 200 ]
tap $? "at x1.5 (960x540) the preview shows the final result's own pixels: a $(val preview block) block of dialog-x1.5.png equals the result at offset $(val preview offset) with $(val preview unequal) unequal pixels ($(val preview status), $(val preview width)x$(val preview height))"

wait "$gimp"
rc=$?
tap $rc "GIMP exits cleanly (rc $rc)"
[ $rc = 0 ] || tail -n 30 "$OUT/dialog.log" | sed 's/^/TAP #   /'
