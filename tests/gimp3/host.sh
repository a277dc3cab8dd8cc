#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# GIMP 3 test host. Debian 12 ships only GIMP 2.10, so GIMP 3 runs in a cached Debian chroot
# that lives outside the clone, one per Debian suite: trixie (Debian 13) has GIMP 3.0, forky
# (Debian testing) GIMP 3.2.
#
#   host.sh [--suite SUITE] COMMAND...   SUITE defaults to $TCONV_GIMP3_SUITE, else trixie
#
#   host.sh ensure                 build or update the chroot (idempotent, ~instant when current)
#   host.sh run CMD [ARG...]       run CMD in the chroot; exits with CMD's status
#   host.sh gimp-batch SCHEME...   gimp-console Script-Fu batch (one -b per argument)
#   host.sh python-batch FILE.py   python-fu-eval batch; FILE is a host path, fed on stdin
#   host.sh root                   print the chroot path
#   host.sh gimp-version           print the chroot's GIMP major.minor (from its binary names)
#   host.sh destroy                delete the chroot (after checking nothing is mounted in it)
#
# Environment:
#   TCONV_GIMP3_SUITE    Debian suite (default trixie); --suite overrides it
#   TCONV_GIMP3_ROOT     chroot dir (default /var/cache/tconv/gimp3-root for trixie,
#                        /var/cache/tconv/gimp3-SUITE-root for any other suite)
#   TCONV_GIMP3_MIRROR   Debian mirror for debootstrap (default: the one the host's apt uses)
#   TCONV_GIMP3_SRC      tree bound read-only at /src (default: this repository)
#   TCONV_GIMP3_OUT      host dir bound read-write at /work-out (default: a new temp dir, kept
#                        and named on stderr only if the command left files in it)
#   TCONV_GIMP3_TIMEOUT  seconds before gimp-batch/python-batch kill GIMP (default 300)
#   TCONV_GIMP3_ARGS     extra gimp-console arguments, space separated (e.g. "-d -f")
#   TCONV_GIMP3_RW_ROOT  1 = leave the chroot writable during `run` (default read-only)
#   GIMP3_DIRECTORY      GIMP profile path inside the chroot (default: a fresh copy of a
#                        profile warmed by ensure, so GIMP need not query every plug-in)
#   TCONV_GIMP3_COLD_PROFILE  1 = start from an empty profile and HOME instead
#
# Inside `run`: / is read-only so tests cannot change the cache behind CI's back, /tmp is a
# fresh tmpfs (HOME=/tmp/home, GIMP3_DIRECTORY=/tmp/gimp3-profile), the cwd is /work-out,
# and CI plus TCONV_* (not TCONV_GIMP3_*) pass through. GIMP's binaries are found, not
# assumed (3.0 installs gimp-console-3.0, 3.2 gimp-console-3.2): TCONV_GIMP_CONSOLE and
# TCONV_GIMP_GUI name them inside, TCONV_GIMP_VERSION is the major.minor they carry. Each run gets its own mount and PID
# namespace: whatever happens to this script, the kernel drops the mounts and kills any GIMP
# left over when the run ends. Without unshare it falls back to host mounts undone by a trap.
set -euo pipefail

# The stamp records RECIPE and PACKAGES: when either changes, ensure re-runs the install
# steps on the existing root (adding packages; dropped ones stay). Bump RECIPE when the steps
# change; `destroy` then `ensure` for a clean rebuild.
readonly RECIPE=2
readonly PACKAGES=(gimp libgimp-3.0-dev meson ninja-build gcc pkg-config xvfb xauth
                   libjpeg-dev liblcms2-dev
                   python3 python3-numpy python3-gi xdotool imagemagick x11-utils)
readonly CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

SELF=$(readlink -f "${BASH_SOURCE[0]}")
if [[ ${1:-} == --suite ]]; then
  [[ $# -ge 2 ]] || { echo "host.sh: --suite needs a Debian suite name" >&2; exit 2; }
  TCONV_GIMP3_SUITE=$2
  shift 2
fi
SUITE=${TCONV_GIMP3_SUITE:-trixie}
export TCONV_GIMP3_SUITE=$SUITE  # the namespaced re-runs of this script need it too
[[ $SUITE =~ ^[a-z][a-z0-9-]*$ ]] ||
  { echo "host.sh: suite '$SUITE' must be a Debian codename of [a-z0-9-]" >&2; exit 2; }
if [[ $SUITE == trixie ]]; then
  ROOT=${TCONV_GIMP3_ROOT:-/var/cache/tconv/gimp3-root}  # the first layout: keep its cache
else
  ROOT=${TCONV_GIMP3_ROOT:-/var/cache/tconv/gimp3-$SUITE-root}
fi
SRC=${TCONV_GIMP3_SRC:-$(cd "$(dirname "$SELF")/../.." && pwd -P)}
STAMP=$ROOT/.tconv-gimp3-stamp
BUSY=$ROOT/.tconv-gimp3-installing  # present only while packages are being installed
TEMPLATE=/var/lib/tconv            # warm GIMP profile and HOME cache, copied into each run
export DEBIAN_FRONTEND=noninteractive

die() { printf 'host.sh: %s\n' "$*" >&2; exit 2; }
log() { printf 'host.sh: %s\n' "$*" >&2; }

check_config() {
  [[ $(id -u) == 0 ]] || die "must run as root (chroot and mount need it); uid is $(id -u)"
  # Strict charset: ROOT is later given to rm -rf and compared with /proc/self/mounts.
  [[ $ROOT =~ ^/[A-Za-z0-9._/-]+$ && $ROOT != / && $ROOT != *..* ]] ||
    die "TCONV_GIMP3_ROOT='$ROOT' must be an absolute path of [A-Za-z0-9._/-], without '..', not /"
  [[ -d $SRC ]] || die "TCONV_GIMP3_SRC='$SRC' is not a directory"
  local real_root real_src
  real_root=$(readlink -m "$ROOT")
  real_src=$(readlink -f "$SRC")
  [[ $real_root/ != "$real_src"/* ]] ||
    die "TCONV_GIMP3_ROOT='$ROOT' is inside the source tree '$SRC'; the chroot must live outside the clone"
}

want_stamp() { printf 'recipe %s\nsuite %s\npackages %s\n' "$RECIPE" "$SUITE" "${PACKAGES[*]}"; }
is_current() { [[ -f $STAMP && $(<"$STAMP") == "$(want_stamp)" ]]; }

# Mirror of the host's own Debian suite, from one-line or deb822 sources.
host_mirror() {
  if [[ -n ${TCONV_GIMP3_MIRROR:-} ]]; then echo "$TCONV_GIMP3_MIRROR"; return; fi
  local cn m=
  # shellcheck disable=SC1091
  cn=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || cn=
  if [[ -n $cn ]]; then
    m=$(shopt -s nullglob
        awk -v cn="$cn" '
          function flush() {
            if (!found && uris != "" && (" " types " ") ~ / deb / && (" " suites " ") ~ (" " cn " ") &&
                tolower(enabled) !~ /^(no|false)$/) { split(uris, u, " "); print u[1]; found = 1 }
            uris = types = suites = enabled = ""
          }
          FNR == 1 { flush() }
          found || /^[ \t]*#/ { next }
          /^deb[ \t]/ { l = $0; sub(/\[[^]]*\]/, "", l); split(l, f, /[ \t]+/)
                        if (f[3] == cn) { print f[2]; found = 1 }; next }
          /^[ \t]*$/ { flush(); next }
          { k = tolower($0); v = $0; sub(/^[^:]*:[ \t]*/, "", v) }
          k ~ /^types:/ { types = v }
          k ~ /^uris:/ { uris = v }
          k ~ /^suites:/ { suites = v }
          k ~ /^enabled:/ { enabled = v }
          END { flush() }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                           /etc/apt/sources.list.d/*.sources 2>/dev/null) || m=
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# ---- mounts --------------------------------------------------------------------------------
MOUNTED=()
mnt() {  # mnt TARGET MOUNT-ARGS...: mount and remember for undo_mounts
  local target=$1; shift
  mount "$@" "$target" || die "mount $* $target failed"
  MOUNTED+=("$target")
}
# shellcheck disable=SC2317  # called from traps
undo_mounts() {
  local i t
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    t=${MOUNTED[i]}
    mountpoint -q "$t" 2>/dev/null || continue
    umount -R "$t" 2>/dev/null || umount -R -l "$t" || log "could not unmount $t"
  done
  MOUNTED=()
}
mounts_under() {  # print mount points at or below $1 (in this mount namespace)
  awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts
}
# /proc fresh (matches the PID namespace). /dev recursively from the host, which brings
# /dev/pts and /dev/shm; as a slave, so unmounting it can never propagate back and take the
# host's /dev/pts with it.
mount_sys() {
  local r=$1
  mnt "$r/proc" -t proc proc
  mnt "$r/dev" --rbind /dev
  mount --make-rslave "$r/dev"
}
# Mounts under ROOT in the host namespace can only be left by a trap-less death (SIGKILL)
# in fallback mode. Call only under the exclusive lock, when no run can be using them.
clear_stale_mounts() {
  local m
  for m in $(mounts_under "$ROOT" | sort -r); do
    log "unmounting stale $m"
    umount -R "$m" 2>/dev/null || umount -R -l "$m" || die "cannot unmount stale $m"
  done
}
CAN_UNSHARE=
can_unshare() {  # TCONV_GIMP3_NO_UNSHARE=1 forces the trap-based fallback (for testing it)
  if [[ -z $CAN_UNSHARE ]]; then
    CAN_UNSHARE=no
    [[ ${TCONV_GIMP3_NO_UNSHARE:-0} == 1 ]] ||
      ! unshare --mount --propagation private --pid --fork --kill-child true 2>/dev/null ||
      CAN_UNSHARE=yes
  fi
  [[ $CAN_UNSHARE == yes ]]
}
# Re-run this script's internal entry point in private namespaces when possible. In the
# background, so that a signal to this script also ends the namespace (unshare ignores INT
# and TERM; killing it makes --kill-child take down everything inside). The explicit <&0
# keeps stdin, which `&` would otherwise replace with /dev/null.
in_namespace() {
  local pid rc=0 kill s
  if can_unshare; then
    unshare --mount --propagation private --pid --fork --kill-child -- "$SELF" "$@" <&0 &
    pid=$! kill="-KILL $!"
  else
    # Own process group, so that TERM reaches the command too; the child's traps then
    # undo its mounts.
    setsid "$SELF" "$@" <&0 &
    pid=$! kill="-TERM -- -$!"
  fi
  # shellcheck disable=SC2064  # expand pid and kill now
  for s in INT:130 TERM:143 HUP:129; do trap "kill $kill 2>/dev/null; { wait $pid; } 2>/dev/null || :; exit ${s#*:}" "${s%:*}"; done
  wait "$pid" || rc=$?
  trap - INT TERM HUP
  return "$rc"
}

# ---- GIMP's binaries -------------------------------------------------------------------------
# The newest versioned GIMP 3 binary in the chroot: GIMP 3.0 installs gimp-console-3.0 and
# gimp-3.0, GIMP 3.2 gimp-console-3.2 and gimp-3.2 (plus unversioned links).
gimp_version() {
  local v
  v=$(cd "$ROOT/usr/bin" 2>/dev/null && printf '%s\n' gimp-console-3.* |
        sed -n 's/^gimp-console-\(3\.[0-9][0-9]*\)$/\1/p' | sort -V | tail -n 1)
  [[ -n $v ]] || die "no gimp-console-3.N in $ROOT/usr/bin (is GIMP 3 installed there?)"
  echo "$v"
}
gimp_binary() {  # gimp_binary console|gui: the binary's name in the chroot
  local v
  v=$(gimp_version)
  case $1 in
    console) echo "gimp-console-$v" ;;
    gui) [[ -x $ROOT/usr/bin/gimp-$v ]] && echo "gimp-$v" || echo gimp ;;
  esac
}

# ---- ensure ---------------------------------------------------------------------------------
LOCK_FD=
lock() {  # lock -x|-s: serialise ensure against runs that use the root
  mkdir -p "$(dirname "$ROOT")"
  [[ -n $LOCK_FD ]] || exec {LOCK_FD}>"$ROOT.lock"
  flock "$1" "$LOCK_FD"
}

safe_rm() {  # delete a chroot dir, refusing while anything is mounted below it
  local d=$1 m
  [[ -e $d ]] || return 0
  m=$(mounts_under "$d")
  [[ -z $m ]] || die "refusing to delete $d: still mounted: ${m//$'\n'/ }"
  rm -rf --one-file-system -- "$d"
}

in_chroot() {
  chroot "$ROOT" /usr/bin/env -i PATH="$CHROOT_PATH" HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@" </dev/null
}

cmd_ensure() {
  check_config
  if is_current; then return 0; fi
  lock -x
  if is_current; then return 0; fi  # built by a concurrent run while we waited
  clear_stale_mounts
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap on the host"
    apt-get update -q && apt-get install -y -q debootstrap </dev/null
  fi
  local t0=$SECONDS
  TCONV_GIMP3_MIRROR=$(host_mirror) in_namespace __ensure
  log "chroot $ROOT ready ($((SECONDS - t0)) s)"
}

# The root is a disposable cache: dpkg need not fsync every file (BUSY covers crashes),
# and docs are dead weight.
dpkg_settings() {
  mkdir -p "$1/etc/dpkg/dpkg.cfg.d"
  printf '%s\n' force-unsafe-io 'path-exclude=/usr/share/doc/*' 'path-exclude=/usr/share/man/*' \
    'path-exclude=/usr/share/info/*' >"$1/etc/dpkg/dpkg.cfg.d/tconv-gimp3"
}

ns_ensure() {
  trap undo_mounts EXIT
  trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP
  if [[ -e $BUSY ]]; then
    # dpkg runs with unsafe-io, so after an interrupted install the files cannot be trusted.
    log "$ROOT: a previous package install was interrupted; rebuilding the chroot from scratch"
    safe_rm "$ROOT"
  fi
  if [[ ! -x $ROOT/usr/bin/apt-get ]]; then
    [[ ! -e $ROOT ]] || die "$ROOT exists but is no Debian root (no usr/bin/apt-get); remove it or run: $SELF destroy"
    # Bootstrap beside the target and rename at the end: an interrupted debootstrap then
    # leaves only ROOT.partial, which is never taken as done.
    safe_rm "$ROOT.partial"
    log "debootstrap $SUITE from $TCONV_GIMP3_MIRROR into $ROOT"
    # Two stages, so that the dpkg settings are in place before dpkg first runs.
    # A debootstrap older than the suite has no script for it; Debian's newer suites all
    # bootstrap like sid (bookworm's debootstrap has no `forky`).
    local script=/usr/share/debootstrap/scripts/$SUITE
    [[ -e $script ]] || script=/usr/share/debootstrap/scripts/sid
    debootstrap --foreign --variant=minbase "$SUITE" "$ROOT.partial" "$TCONV_GIMP3_MIRROR" "$script" </dev/null ||
      die "debootstrap $SUITE from $TCONV_GIMP3_MIRROR failed (set TCONV_GIMP3_MIRROR to another mirror?)"
    dpkg_settings "$ROOT.partial"
    chroot "$ROOT.partial" /debootstrap/debootstrap --second-stage </dev/null ||
      die "debootstrap --second-stage failed; see $ROOT.partial/debootstrap/debootstrap.log"
    mv "$ROOT.partial" "$ROOT"
    log "debootstrap done (${SECONDS} s)"
  fi
  mkdir -p "$ROOT/src" "$ROOT/work-out"  # mount points for `run`, whose root is read-only
  rm -f "$STAMP"
  touch "$BUSY"
  mount_sys "$ROOT"
  [[ ! -f /etc/resolv.conf ]] || cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
  # No daemons (dbus, ...) may start inside the chroot during package installs.
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  dpkg_settings "$ROOT"
  # Check-Valid-Until: a testing suite's Release file on a mirror snapshot is soon "expired".
  local apt=(apt-get -y -q -o Dpkg::Use-Pty=0 -o APT::Install-Recommends=false
             -o Acquire::Check-Valid-Until=false
             -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  in_chroot "${apt[@]}" update || die "apt-get update in $ROOT failed (mirror $TCONV_GIMP3_MIRROR)"
  log "installing in chroot: ${PACKAGES[*]}"
  in_chroot "${apt[@]}" install "${PACKAGES[@]}" || die "apt-get install in $ROOT failed (see above)"
  in_chroot apt-get clean
  rm -rf "$ROOT"/var/lib/apt/lists/*  # 90 MB; every package install starts with an update
  log "packages installed (${SECONDS} s)"
  warm_template
  want_stamp >"$STAMP.tmp" && mv "$STAMP.tmp" "$STAMP"
  rm -f "$BUSY"
}

# GIMP's first start in an empty profile queries every plug-in (~8 s idle, 45 s on a busy
# machine). Do it once here; each run then starts from a fresh copy of the result.
warm_template() {
  local t=$TEMPLATE out console
  console=$(gimp_binary console)
  rm -rf "${ROOT:?}$t"
  mkdir -p "$ROOT$t/home"
  log "warming a GIMP profile template in $t with $console"
  out=$(in_chroot env HOME="$t/home" GIMP3_DIRECTORY="$t/gimp3-profile" timeout -k 10 600 \
          "$console" -i --quit --batch-interpreter=plug-in-script-fu-eval \
          -b '(gimp-version)' 2>&1) ||
    die "$console failed in $ROOT after installing; its output:"$'\n'"$out"
  [[ -s $ROOT$t/gimp3-profile/pluginrc ]] || die "GIMP wrote no $t/gimp3-profile/pluginrc; output:"$'\n'"$out"
}

# ---- run ------------------------------------------------------------------------------------
cmd_run() {
  [[ $# -gt 0 ]] || die "run needs a command, e.g.: $SELF run gimp-console-3.0 --version"
  local console gui version
  check_config
  is_current || { log "chroot $ROOT missing or out of date; running ensure first"; cmd_ensure; }
  # Shared lock: runs may overlap each other, but not an ensure rewriting the root.
  # Without namespaces the runs share mount points, so they must take turns.
  if can_unshare; then lock -s; else lock -x; clear_stale_mounts; fi
  local out=${TCONV_GIMP3_OUT:-} rc=0
  if [[ -z $out ]]; then
    out=$(mktemp -d /tmp/tconv-gimp3-out.XXXXXX)
    # shellcheck disable=SC2064  # expand out now
    trap "rmdir '$out' 2>/dev/null || log 'output files kept in $out'" EXIT
  fi
  [[ -d $out ]] || die "TCONV_GIMP3_OUT='$out' is not a directory"
  version=$(gimp_version) console=$(gimp_binary console) gui=$(gimp_binary gui)
  TCONV_GIMP_VERSION=$version TCONV_GIMP_CONSOLE=$console TCONV_GIMP_GUI=$gui \
    TCONV_GIMP3_OUT=$(cd "$out" && pwd -P) in_namespace __run "$@" || rc=$?
  return "$rc"
}

ns_run() {
  trap undo_mounts EXIT
  trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP
  local r=$ROOT
  # Bind the root onto itself first so it can be made read-only without touching the cache.
  mnt "$r" --bind "$r"
  mount --make-private "$r"
  [[ ${TCONV_GIMP3_RW_ROOT:-0} == 1 ]] || mount -o remount,bind,ro "$r"
  mount_sys "$r"
  mnt "$r/tmp" -t tmpfs -o mode=1777 tmpfs
  mkdir -p "$r/tmp/home" "$r/tmp/xdg-runtime"
  chmod 700 "$r/tmp/xdg-runtime"
  if [[ -z ${GIMP3_DIRECTORY:-} && ${TCONV_GIMP3_COLD_PROFILE:-0} != 1 ]]; then
    cp -a "$r$TEMPLATE/gimp3-profile" "$r/tmp/gimp3-profile"
    cp -a "$r$TEMPLATE/home/." "$r/tmp/home/"
  fi
  mnt "$r/src" --bind "$SRC"
  mount -o remount,bind,ro "$r/src"
  mnt "$r/work-out" --bind "$TCONV_GIMP3_OUT"

  local env=(PATH="$CHROOT_PATH" HOME=/tmp/home TMPDIR=/tmp LANG=C.UTF-8 LC_ALL=C.UTF-8
             XDG_RUNTIME_DIR=/tmp/xdg-runtime DEBIAN_FRONTEND=noninteractive
             GIMP3_DIRECTORY="${GIMP3_DIRECTORY:-/tmp/gimp3-profile}")
  local v
  for v in CI TERM $(compgen -e TCONV_ || true); do
    [[ $v != TCONV_GIMP3_* && -n ${!v+x} ]] && env+=("$v=${!v}")
  done
  local rc=0
  chroot "$r" /usr/bin/env -i "${env[@]}" /bin/sh -c 'cd /work-out && exec "$@"' sh "$@" || rc=$?
  exit "$rc"
}

# gimp-console under `timeout`: a failing batch can leave GIMP waiting forever (notes §5.1).
# timeout signals its whole process group, so plug-in processes go too.
gimp_console() {
  local t=${TCONV_GIMP3_TIMEOUT:-300} rc=0
  [[ $t =~ ^[1-9][0-9]*$ ]] || die "TCONV_GIMP3_TIMEOUT='$t' must be a positive whole number of seconds"
  # shellcheck disable=SC2086  # TCONV_GIMP3_ARGS is a space-separated list by design
  cmd_run timeout -k 10 "$t" "$(gimp_binary console)" -i --quit ${TCONV_GIMP3_ARGS:-} "$@" || rc=$?
  ((rc != 124 && rc != 137)) || log "GIMP killed after the ${t} s timeout (TCONV_GIMP3_TIMEOUT)"
  return "$rc"
}

cmd_gimp_batch() {
  [[ $# -gt 0 ]] || die "gimp-batch needs a Scheme expression, e.g.: $SELF gimp-batch '(gimp-message \"hi\")'"
  local b=() s
  for s in "$@"; do b+=(-b "$s"); done
  gimp_console --batch-interpreter=plug-in-script-fu-eval "${b[@]}" </dev/null
}

cmd_python_batch() {
  [[ $# -eq 1 ]] || die "python-batch needs exactly one FILE.py (got $# arguments)"
  [[ -f $1 && -r $1 ]] || die "python-batch: '$1' is not a readable file"
  gimp_console --batch-interpreter=python-fu-eval -b - <"$1"
}

cmd_destroy() {
  check_config
  lock -x
  clear_stale_mounts
  safe_rm "$ROOT.partial"
  safe_rm "$ROOT"
  log "removed $ROOT"
}

main() {
  local cmd=${1:-}
  [[ $# -eq 0 ]] || shift
  case $cmd in
    ensure) cmd_ensure ;;
    run) cmd_run "$@" ;;
    gimp-batch) cmd_gimp_batch "$@" ;;
    python-batch) cmd_python_batch "$@" ;;
    root) echo "$ROOT" ;;
    gimp-version) gimp_version ;;
    destroy) cmd_destroy ;;
    __ensure) ns_ensure ;;     # internal: inside the namespace
    __run) ns_run "$@" ;;      # internal: inside the namespace
    *) die "unknown command '${cmd}'; use ensure, run CMD..., gimp-batch SCHEME..., python-batch FILE, root, gimp-version or destroy" ;;
  esac
}
main "$@"; exit  # on one line: bash must not read on if this file is edited while running
