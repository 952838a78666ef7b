#!/bin/sh
# Creates (once) and runs commands inside a Debian 13 (trixie) chroot that has GIMP 3,
# because the host (Debian 12) only packages GIMP 2.10.
#
#   tests/gimp/gimp3-chroot.sh setup           create the chroot if it is missing (idempotent, cached)
#   tests/gimp/gimp3-chroot.sh run CMD ARGS…   run CMD inside it, with /proc mounted in a private
#                                              mount namespace (nothing leaks when it exits);
#                                              COLORIZE_CHROOT_X11=1 also shows it the host's
#                                              X sockets (/tmp/.X11-unix), for Xvfb screenshots
#
# The chroot lives in $GIMP3_CHROOT (default: target/gimp3-trixie, which git ignores). A stamp
# file marks a finished set-up, so an interrupted one is redone from scratch.
set -eu
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
CHROOT=${GIMP3_CHROOT:-$ROOT_DIR/target/gimp3-trixie}
STAMP=$CHROOT/.colorize-gimp3-ready
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# dpkg-dev: dpkg-shlibdeps and dpkg-buildflags for the packaged plug-in (scripts/package-deb.sh)
PACKAGES="gimp libgimp-3.0-dev gcc make pkg-config dpkg-dev"

setup() {
    if [ -f "$STAMP" ]; then
        echo "gimp3-chroot: using cached $CHROOT"
        return 0
    fi
    command -v debootstrap >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap
    rm -rf "$CHROOT"
    mkdir -p "$(dirname "$CHROOT")"
    echo "gimp3-chroot: debootstrap trixie into $CHROOT"
    debootstrap --variant=minbase trixie "$CHROOT" "$MIRROR"
    echo "gimp3-chroot: installing $PACKAGES"
    run_inside sh -c "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PACKAGES && apt-get clean"
    touch "$STAMP"
}

run_inside() {
    # A private mount namespace: /proc is mounted for the command only and vanishes with it.
    unshare --mount --fork sh -c '
        chroot_dir=$1; shift
        mount -t proc proc "$chroot_dir/proc"
        mount -t tmpfs tmpfs "$chroot_dir/dev/shm" 2>/dev/null || true
        if [ -n "${COLORIZE_CHROOT_X11:-}" ] && [ -d /tmp/.X11-unix ]; then
            # for screenshots: the host Xvfb'"'"'s socket, seen inside
            mkdir -p "$chroot_dir/tmp/.X11-unix"
            mount --bind /tmp/.X11-unix "$chroot_dir/tmp/.X11-unix"
        fi
        exec chroot "$chroot_dir" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
    ' sh "$CHROOT" "$@"
}

case "${1:-}" in
    setup) setup ;;
    run) shift; [ -f "$STAMP" ] || { echo "gimp3-chroot: not set up; run '$0 setup' first" >&2; exit 2; }; run_inside "$@" ;;
    path) echo "$CHROOT" ;;
    *) echo "usage: $0 setup | run CMD [ARGS…] | path" >&2; exit 2 ;;
esac
