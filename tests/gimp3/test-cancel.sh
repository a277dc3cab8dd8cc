#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The cancel test, inside the GIMP 3 chroot with the plug-in installed (plugin-inside.sh):
# under Xvfb, test-cancel.py calls the plug-in twice (in place, then new-image) on a job that
# takes several seconds; during each call this script clicks the Cancel button that GIMP
# shows in its window's status bar beside the plug-in's progress, which is how a user
# cancels. test-cancel.py checks the outcome. Nothing in the plug-in knows it is tested.
#
# The button is found, not assumed: the status bar is screenshotted before the first call
# and while each call runs, and the click goes to the middle of the rightmost run of changed columns
# (the button; the progress text and bar lie to its left). A screenshot of the second state
# is kept as /work-out/cancel-screen-N.png. Prints TAP lines like plugin-inside.sh.
set -u
OUT=/work-out
D=/tmp/cancel

if [ -z "${DISPLAY:-}" ]; then
  rm -rf "$D" "$OUT"/cancel-screen-*.png "$OUT/cancel-driver.log"
  mkdir -p "$D"
  exec xvfb-run -a -s "-screen 0 1280x1024x24" sh "$0" "$@"
fi

tap() {
  if [ "$1" = 0 ]; then echo "TAP ok - $2"; else echo "TAP not ok - $2"; fi
}
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
# cancel_button BEFORE.ppm DURING.ppm HEIGHT: "X Y" of the Cancel button in the window, from
# the bottom 40 rows (the status bar) of two screenshots of it.
cancel_button() {
  python3 - "$@" <<'PY'
import sys
import numpy as np

def ppm(path):
    data = open(path, 'rb').read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b'#':
            pos = data.index(b'\n', pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    w, h = int(fields[1]), int(fields[2])
    assert fields[0] == b'P6' and fields[3] == b'255', fields
    return np.frombuffer(data, np.uint8, w * h * 3, pos + 1).reshape(h, w, 3)

a, b, h = ppm(sys.argv[1]), ppm(sys.argv[2]), int(sys.argv[3])
band = slice(h - 40, h)
cols = np.flatnonzero((a[band] != b[band]).any(axis=(0, 2)))
if cols.size == 0:
    sys.exit(1)
# the rightmost run of changed columns with gaps of at most 8 (icon and label)
end = start = cols[-1]
for c in cols[::-1][1:]:
    if start - c > 8:
        break
    start = c
rows = np.flatnonzero((a[band, start:end + 1] != b[band, start:end + 1]).any(axis=(1, 2)))
print((start + end) // 2, h - 40 + (rows[0] + rows[-1]) // 2)
PY
}

# No welcome dialog over the window.
echo "(show-welcome-dialog no)" >>"$GIMP3_DIRECTORY/gimprc"
t0=$(date +%s)
CANCEL_DIR=$D timeout -k 10 240 "$TCONV_GIMP_GUI" --no-splash --quit --batch-interpreter=python-fu-eval \
  -b - </src/tests/gimp3/test-cancel.py >"$OUT/cancel.log" 2>&1 &
gimp=$!

for call in 0 1; do
  pos=
  if wait_for 150 test -f "$D/ready-$call"; then
    win=$(xdotool search --onlyvisible --name '^GNU Image Manipulation Program$' | head -n 1)
    if [ -n "$win" ]; then
      h=$(xdotool getwindowgeometry "$win" | sed -n 's/.*Geometry: [0-9]*x//p')
      # the idle status bar, before the first call (later ones may still show a message)
      [ -f "$D/before.ppm" ] ||
        import -depth 8 -window "$win" "$D/before.ppm" 2>>"$OUT/cancel-driver.log"
      touch "$D/go-$call"
      # Poll until the button shows at the same place twice in a row (the progress text may
      # be drawn a moment before it); the computation takes several seconds more.
      last= i=0
      while [ $i -lt 50 ] && [ ! -f "$D/result-$call" ]; do
        sleep 0.4
        import -depth 8 -window "$win" "$D/during.ppm" 2>>"$OUT/cancel-driver.log"
        pos=$(cancel_button "$D/before.ppm" "$D/during.ppm" "$h" 2>>"$OUT/cancel-driver.log")
        [ -n "$pos" ] && [ "$pos" = "$last" ] && break
        last=$pos pos= i=$((i + 1))
      done
      import -window "$win" "$OUT/cancel-screen-$((call + 1)).png" 2>>"$OUT/cancel-driver.log"
      echo "call $call: window $win, height $h, button at '$pos' after $i looks" \
        >>"$OUT/cancel-driver.log"
      [ -z "$pos" ] || [ -f "$D/result-$call" ] ||
        xdotool mousemove --window "$win" $pos click 1 mousemove 0 0  # no hover left over
    fi
  fi
  touch "$D/go-$call"
  [ -n "$pos" ]
  tap $? "call $((call + 1)): GIMP shows the plug-in's progress with a Cancel button (at ${pos:-?}); clicked"
  wait_for 60 test -f "$D/result-$call"
done

wait "$gimp"
rc=$?
grep '^TAP ' "$OUT/cancel.log"
grep -q '^TAP # done' "$OUT/cancel.log"
tap $? "the cancel test ran to the end in $TCONV_GIMP_GUI under Xvfb (rc $rc, $(($(date +%s) - t0)) s)"
