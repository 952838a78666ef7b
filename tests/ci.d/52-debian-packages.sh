#!/bin/sh
# The Debian packages (scripts/package-deb.sh, docs/install.md), installed as a user would:
#   1. builds both sets from the suite's build (no compile of the library) and lints them
#      (lintian, on the other core while the checks below run; a warning fails unless
#      overridden with its reason in packaging/debian/);
#   2. Debian 13: in a throwaway copy of the GIMP 3 chroot (an overlay on
#      target/gimp3-trixie, which stays as it was), `apt install ./*.deb`, then as a user
#      with no colorize variable set: colorizes a photo with the command, lists the
#      installed models (found in /usr/share/colorize/models) and uses one, reads
#      `man colorize`, completes an option in bash, builds the C example with pkg-config
#      alone and runs it, runs the GIMP 3 plug-in in batch mode on the installed model;
#      then `apt purge` and checks that no file of the packages is left and that the
#      file system is as it was before the install;
#   3. Debian 12: the set resolves against this machine's (Debian 12) packages
#      (`apt-get install --simulate`), and its GIMP 2.10 plug-in, as packaged, colorizes
#      an image in this machine's GIMP 2.10 in batch mode (unpacked, not installed: this
#      machine's own files stay untouched).
# Runs as root after 50-gimp.sh (which makes the chroot). Every check prints PASS or FAIL;
# the exit status is 1 if any failed.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
say() { echo "52-debian: $*"; }
failed=0
check() {  # NAME CONDITION-STATUS
    if [ "$2" = 0 ]; then say "PASS  $1"; else say "FAIL  $1"; failed=1; fi
}
start=$(date +%s)

# ---- 1. the packages -------------------------------------------------------------------
OUT=$ROOT/target/debian
COLORIZE_DEB_OUT=$OUT COLORIZE_DEB_LINT=later scripts/package-deb.sh trixie bookworm
say "packages built in $(( $(date +%s) - start )) s"

T=$(mktemp -d /tmp/colorize-deb-test.XXXXXX)
mounted=
lint_pid=
cleanup() {
    # The whole process group: lintian runs as a child of package-deb.sh.
    [ -z "$lint_pid" ] || kill -- "-$lint_pid" 2>/dev/null || kill "$lint_pid" 2>/dev/null || true
    [ -z "$mounted" ] || umount "$T/root" 2>/dev/null || umount -l "$T/root" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
# lintian (about two minutes, one core) runs beside the chroot checks; its verdict is
# read at the end. In a process group of its own (setsid: this shell has no job control, so
# the background child is not a group leader and setsid keeps its pid), so that an early
# exit stops lintian too, not only its parent.
COLORIZE_DEB_OUT=$OUT setsid scripts/package-deb.sh --lint trixie bookworm >"$T/lint.log" 2>&1 &
lint_pid=$!

# ---- 2. Debian 13 in a throwaway copy of the GIMP 3 chroot ------------------------------
CHROOT_SH=tests/gimp/gimp3-chroot.sh
"$CHROOT_SH" setup >/dev/null
BASE=$("$CHROOT_SH" path)
mkdir -p "$T/upper" "$T/work" "$T/root"
if mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$T/upper,workdir=$T/work" "$T/root" 2>/dev/null; then
    mounted=1
else
    say "no overlay file system here: copying the chroot"
    rmdir "$T/root" && cp -a "$BASE" "$T/root"
fi
inside() { GIMP3_CHROOT=$T/root "$CHROOT_SH" run "$@"; }
# as the user "tester", with a clean environment: no COLORIZE_*, no XDG_* variables
as_user() { inside runuser -u tester -- env -i HOME=/home/tester PATH=/usr/bin:/bin LANG=C.UTF-8 sh -c "$1"; }

mkdir -p "$T/root/tmp/debs"
cp "$OUT"/trixie/*.deb "$T/root/tmp/debs/"
# What a user brings: man and bash-completion (a minimal Debian has neither), a photo, the
# C example. The test's helper files go to /tmp, which the snapshots leave out.
say "chroot: apt-get install man-db bash-completion (the tools the checks use)"
inside sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends man-db bash-completion >/dev/null' \
    || { say "FAIL  cannot install man-db and bash-completion in the chroot"; exit 1; }
inside useradd -m tester
mkdir -p "$T/root/tmp/t"
cp examples/cameraman.png examples/colorize_pgm.c "$T/root/tmp/t/"
# The helpers the checks run (as files, to keep the quoting plain).
cat >"$T/root/tmp/t/is_coloured.py" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read()
# A PPM, binary (P6) or ASCII (P3, as GIMP 2.10 saves in batch mode): width, height,
# maximum, then the samples; '#' comments in the header.
sep = rb"(?:\s+|#[^\n]*\n)+"
header = re.match(rb"(P[36])" + sep + rb"(\d+)" + sep + rb"(\d+)" + sep + rb"(\d+)\s", data)
assert header, f"{sys.argv[1]}: not a PPM"
width, height, maximum = (int(v) for v in header.groups()[1:])
assert maximum == 255, maximum
body = data[header.end():]
px = body[:width * height * 3] if header.group(1) == b"P6" else [int(v) for v in body.split()]
assert len(px) == width * height * 3, "short pixel data"
coloured = sum(1 for i in range(0, len(px), 3) if max(px[i:i + 3]) - min(px[i:i + 3]) > 6)
print(f"{sys.argv[1]}: {coloured} of {width * height} pixels coloured")
sys.exit(0 if coloured > width * height // 100 else 1)
EOF
cat >"$T/root/tmp/t/grey.py" <<'EOF'
import struct, sys, zlib
w, h = 120, 80
pixels = [bytes((x * 2 + y) % 256 for x in range(w)) for y in range(h)]
if sys.argv[1].endswith(".pgm"):
    open(sys.argv[1], "wb").write(b"P5\n%d %d\n255\n" % (w, h) + b"".join(pixels))
else:
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(b"\0" + row for row in pixels))) + chunk(b"IEND", b""))
EOF
cat >"$T/root/tmp/t/completion.bash" <<'EOF'
# bash-completion loads /usr/share/bash-completion/completions/colorize on first use, as in
# an interactive shell; then "colorize --list-m<TAB>".
. /usr/share/bash-completion/bash_completion
_comp_load colorize 2>/dev/null || __load_completion colorize
spec=$(complete -p colorize) || exit 1
func=${spec#*-F }; func=${func%% *}
COMP_LINE="colorize --list-m"; COMP_POINT=${#COMP_LINE}
COMP_WORDS=(colorize --list-m); COMP_CWORD=1
"$func" colorize --list-m colorize
printf "%s\n" "${COMPREPLY[@]}"
EOF
cat >"$T/root/tmp/t/c-example.sh" <<'EOF'
set -e
cd ~
cc -std=c11 -Wall -Wextra -Werror /tmp/t/colorize_pgm.c $(pkg-config --cflags --libs colorize) -o colorize_pgm
readelf -d colorize_pgm | grep "NEEDED.*\[libcolorize.so.0.1\]"
python3 /tmp/t/grey.py in.pgm
./colorize_pgm in.pgm out.ppm
python3 /tmp/t/is_coloured.py out.ppm
EOF
cat >"$T/root/tmp/t/gimp3.sh" <<'EOF'
cd ~
python3 /tmp/t/grey.py grey.png
timeout 300 gimp-console-3.0 -i -d -f --batch-interpreter plug-in-script-fu-eval -b '
(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE "/home/tester/grey.png")))
       (layer (vector-ref (car (gimp-image-get-layers image)) 0)))
  (plug-in-colorize #:run-mode RUN-NONINTERACTIVE #:image image #:drawables (vector layer)
                    #:model "outdoor-natural" #:saturation 1.0)
  (gimp-file-save RUN-NONINTERACTIVE image "/home/tester/gimp.ppm" -1)
  (gimp-image-delete image))' --quit >gimp.log 2>&1
test -f gimp.ppm || { tail -n 20 gimp.log; exit 1; }
python3 /tmp/t/is_coloured.py gimp.ppm
EOF
chmod -R a+rwX "$T/root/tmp/t"

# The file system before the install (volatile places left out: apt's and dpkg's own
# state, caches, logs, /tmp, home folders).
SNAPSHOT='find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
    -o -path /var/tmp -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache -o -path /var/log \
    -o -path /home -o -path /root \) -prune -o -print | LC_ALL=C sort'
inside sh -c "$SNAPSHOT" >"$T/before"

set +e   # from here every check reports and the step goes on
say "chroot: apt install ./*.deb"
inside sh -c 'cd /tmp/debs && DEBIAN_FRONTEND=noninteractive apt install -y ./*.deb' >"$T/apt-install.log" 2>&1
check "apt install ./*.deb (Debian 13)" $?
grep -E '^(Setting up|E:)' "$T/apt-install.log"
packages=$(for f in "$OUT"/trixie/*.deb; do dpkg-deb -f "$f" Package; done | tr '\n' ' ')
inside dpkg-query -L $packages 2>/dev/null | LC_ALL=C sort -u >"$T/package-files"

as_user 'cd /tmp/t && colorize cameraman.png -o ~/cameraman.ppm && python3 /tmp/t/is_coloured.py ~/cameraman.ppm'
check "colorize a photo with the command (default model)" $?

as_user 'colorize --list-models' >"$T/models" 2>&1
cat "$T/models"
grep -q '^outdoor-natural (installed in /usr/share/colorize/models)$' "$T/models" &&
    grep -q '^outdoor-man-made (installed in /usr/share/colorize/models)$' "$T/models" &&
    grep -q '^general (default)$' "$T/models"
check "colorize --list-models, no variable set: embedded and /usr/share/colorize/models" $?
as_user 'cd /tmp/t && colorize cameraman.png -o ~/natural.ppm --model outdoor-natural && python3 /tmp/t/is_coloured.py ~/natural.ppm'
check "colorize --model outdoor-natural (installed model, by name)" $?

as_user 'man -w colorize && MANWIDTH=100 MANPAGER=cat man colorize' >"$T/man" 2>&1
grep -q '^/usr/share/man/man1/colorize.1.gz$' "$T/man" && grep -q -- '--list-models' "$T/man" &&
    grep -q -- '--vividness' "$T/man"
check "man colorize ($(grep -c . "$T/man") lines)" $?

as_user 'bash /tmp/t/completion.bash' >"$T/completion" 2>&1
cat "$T/completion"
[ "$(cat "$T/completion")" = "--list-models" ]
check "bash completes 'colorize --list-m' to --list-models" $?

as_user 'sh /tmp/t/c-example.sh'
check "C example built with pkg-config alone, needs libcolorize.so.0.1, runs" $?

as_user 'sh /tmp/t/gimp3.sh'
check "GIMP 3 batch: plug-in-colorize with the installed model outdoor-natural" $?

say "chroot: apt purge"
inside sh -c "DEBIAN_FRONTEND=noninteractive apt purge -y $packages" >"$T/apt-purge.log" 2>&1
check "apt purge" $?
inside sh -c "dpkg-query -W $packages" >/dev/null 2>&1 && { say "FAIL  packages still known to dpkg"; failed=1; }
# Every file the packages had is gone (folders such as /usr/share/doc stay if they were
# there before), and nothing else is new.
inside sh -c "$SNAPSHOT" >"$T/after"
left=$(LC_ALL=C comm -12 "$T/package-files" "$T/after" | LC_ALL=C comm -23 - "$T/before")
[ -z "$left" ] || { say "left behind by the packages:"; echo "$left"; }
new=$(LC_ALL=C comm -13 "$T/before" "$T/after")
[ -z "$new" ] || { say "new after install and purge:"; echo "$new"; }
[ -z "$left" ] && [ -z "$new" ] && [ -s "$T/package-files" ]
check "purge leaves no file behind ($(wc -l <"$T/package-files") paths of the packages checked)" $?

# ---- 3. Debian 12: resolves here; the packaged GIMP 2.10 plug-in runs --------------------
apt-get install --simulate "$OUT"/bookworm/*.deb >"$T/simulate.log" 2>&1 &&
    [ "$(grep -c '^Inst ' "$T/simulate.log")" -ge 5 ]
check "Debian 12 set resolves against this machine's packages (apt-get install --simulate)" $?
grep '^Inst ' "$T/simulate.log" || tail -n 5 "$T/simulate.log"
B=$T/bookworm
for f in "$OUT"/bookworm/*.deb; do dpkg-deb -x "$f" "$B"; done
mkdir -p "$B/home" "$B/gimp/plug-ins/colorize"
# GIMP looks in the profile's plug-in folder; the packaged binary needs the packaged library.
cp "$B"/usr/lib/gimp/2.0/plug-ins/colorize/colorize "$B/gimp/plug-ins/colorize/"
python3 "$T/root/tmp/t/grey.py" "$B/grey.png"
env -i HOME="$B/home" PATH=/usr/bin:/bin LANG=C.UTF-8 GIMP2_DIRECTORY="$B/gimp" \
    LD_LIBRARY_PATH="$B/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)" XDG_DATA_DIRS="$B/usr/share" \
    timeout 300 gimp -i -d -f -b "
(let* ((image (car (gimp-file-load RUN-NONINTERACTIVE \"$B/grey.png\" \"$B/grey.png\")))
       (layer (car (gimp-image-get-active-layer image))))
  (plug-in-colorize RUN-NONINTERACTIVE image layer \"outdoor-natural\" 1.0)
  (gimp-file-save RUN-NONINTERACTIVE image layer \"$B/gimp.ppm\" \"$B/gimp.ppm\")
  (gimp-image-delete image))" -b '(gimp-quit 0)' >"$T/gimp2.log" 2>&1
[ -f "$B/gimp.ppm" ] && python3 "$T/root/tmp/t/is_coloured.py" "$B/gimp.ppm"
check "GIMP 2.10 batch: the Debian 12 plug-in package's binary with outdoor-natural" $?
[ -f "$B/gimp.ppm" ] || tail -n 20 "$T/gimp2.log"

lint_status=0
wait "$lint_pid" || lint_status=$?
lint_pid=
cat "$T/lint.log"
check "lintian: no error or warning (overrides explained in packaging/debian/)" $lint_status

for release in trixie bookworm; do
    say "$release: $(cd "$OUT/$release" && for f in *.deb; do printf '%s %s KB, ' "$f" $(( $(stat -c %s "$f") / 1024 )); done)"
done
say "took $(( $(date +%s) - start )) s"
if [ $failed = 0 ]; then say "all checks passed"; else say "checks FAILED"; fi
exit $failed
