#!/bin/sh
# Debian packages from the suite's own build (docs/install.md):
#
#   scripts/package-deb.sh                      both sets: target/debian/trixie/*.deb (Debian 13,
#                                               GIMP 3) and target/debian/bookworm/*.deb (Debian 12,
#                                               GIMP 2.10)
#   scripts/package-deb.sh trixie|bookworm      one set
#   COLORIZE_DEB_OUT=DIR                        another output folder (default target/debian)
#   COLORIZE_DEB_LINT=later                     build only; lint afterwards with
#   scripts/package-deb.sh --lint [RELEASE...]  (the suite runs the lint beside its chroot checks)
#
# The packages, split as Debian splits a library (policy 8.1, 8.2, 8.4):
#   libcolorize0.1        the shared library (SONAME libcolorize.so.0.1): only what changes
#                         with the SONAME, so that two versions can be installed together
#   libcolorize-dev       colorize.h, colorize.pc, the libcolorize.so link, libcolorize.a
#   colorize              the command, colorize(1), bash/zsh/fish completions
#   colorize-models       the installable models (models/*.onnx) in /usr/share/colorize/models,
#                         which the library searches by default (Architecture: all)
#   gimp-plugin-colorize  the GIMP plug-in for that release's GIMP, over libcolorize0.1
# Every package carries copyright (the licences), ATTRIBUTION (encoder weights, training
# data) and, where it holds Rust code, THIRD-PARTY (the statically linked crates).
#
# Nothing of the library is compiled here: the shared and static libraries are cargo-c's
# build of tests/ci.d/15-cinstall.sh (target/cinstall; `cargo cinstall` with the same
# arguments finds it fresh and only installs it, into target/cinstall-stage), and the command is
# the suite's build (scripts/cargo-suite.sh; a no-op when the suite has built). Only the
# GIMP plug-in, one C file, is compiled: for GIMP 2.10 on this machine (Debian 12), for
# GIMP 3 in the Debian 13 chroot of tests/gimp/gimp3-chroot.sh. Depends come from the
# binaries (dpkg-shlibdeps; for the GIMP 3 plug-in, inside the chroot, against Debian 13's
# libraries). lintian checks every package; the exceptions, each explained, are the
# lintian-overrides in packaging/debian/.
# Needs root (the chroot), dpkg-dev, lintian and cargo-c (15-cinstall.sh installs it).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
say() { echo "package-deb: $*"; }
die() { echo "package-deb: $*" >&2; exit 1; }

lint_only=
if [ "${1:-}" = --lint ]; then lint_only=1; shift; fi
releases=${*:-trixie bookworm}
for release in $releases; do
    case $release in trixie|bookworm) ;; *) die "unknown release '$release' (trixie or bookworm)" ;; esac
done
OUT=${COLORIZE_DEB_OUT:-$ROOT/target/debian}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac

export DEBIAN_FRONTEND=noninteractive
for tool in dpkg-shlibdeps:dpkg-dev lintian:lintian; do
    if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
        say "installing ${tool#*:} (apt)"
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${tool#*:}" >/dev/null
    fi
done
[ -n "$lint_only" ] || command -v cargo-cinstall >/dev/null 2>&1 ||
    die "cargo-c is missing: run tests/ci.d/15-cinstall.sh once (it installs and pins it)"

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
LIBDIR=/usr/lib/$MULTIARCH
SONAME_VERSION=$(echo "$VERSION" | cut -d. -f1,2)     # 0.x: 0.MINOR (cargo-c's rule)
LIBPKG=libcolorize$SONAME_VERSION                      # libcolorize0.1 for libcolorize.so.0.1
MAINTAINER="${DEBFULLNAME:-$(git config user.name 2>/dev/null || echo colorize)} <${DEBEMAIL:-$(git config user.email 2>/dev/null || echo colorize@localhost)}>"
# Reproducible: the date of the last commit, not the time of packaging. Given to dpkg-deb
# only, never exported: the cc crate's build scripts track SOURCE_DATE_EPOCH, so cargo with
# it set rebuilds tract and everything above it.
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
CHANGELOG_DATE=$(date -u -R -d "@$EPOCH")

WORK=$OUT/work

# Any error or warning fails; the known ones are overridden in the packages, each with its
# reason (packaging/debian/*.lintian-overrides), and shown here (O:).
lint() {
    set -- "$WORK/common"/*.deb $(for r in $releases; do ls "$OUT/$r"/gimp-plugin-colorize_*.deb; done)
    say "lintian $(lintian --version | sed 's/.* v//') on $# packages"
    # Judged from the output, which is shown whatever lintian's exit status (it is not 0
    # for overridden tags either).
    lintian --show-overrides --tag-display-limit 0 "$@" >"$WORK/lintian.log" 2>&1 || true
    cat "$WORK/lintian.log"
    if grep -q '^[EW]: ' "$WORK/lintian.log"; then die "lintian found errors or warnings"; fi
    say "lintian: no error or warning"
}
if [ -n "$lint_only" ]; then
    [ -d "$WORK/common" ] || die "no packages in $OUT to lint: build them first"
    lint
    exit 0
fi

rm -rf "$WORK"
mkdir -p "$WORK" "$OUT"

# ---- inputs, built once for every release ------------------------------------------------
say "the colorize command: the suite's build (scripts/cargo-suite.sh build; a no-op when fresh)"
scripts/cargo-suite.sh build --bin colorize
CLI=target/release/colorize
if readelf -d "$CLI" | grep NEEDED | grep -Ei 'torch|c10'; then die "$CLI links libtorch"; fi

# The same arguments as 15-cinstall.sh (cargo-c's build depends on them), so that it finds
# that build fresh and only installs it again.
STAGE=$ROOT/target/cinstall-stage
say "the library: cargo-c's build in target/cinstall (15-cinstall.sh), installed into $STAGE"
start=$(date +%s)
rm -rf "$STAGE"
cargo cinstall --release --no-default-features --prefix /usr --libdir "$LIBDIR" \
    --destdir "$STAGE" --target-dir target/cinstall >"$WORK/cinstall.log" 2>&1 \
    || { cat "$WORK/cinstall.log" >&2; die "cargo cinstall failed"; }
if grep -q 'Compiling colorize ' "$WORK/cinstall.log"; then
    say "NOTE: target/cinstall had no fresh build (15-cinstall.sh has not run since the last change): cargo cinstall compiled the library ($(( $(date +%s) - start )) s)"
else
    say "cargo cinstall compiled nothing: it found 15-cinstall.sh's build ($(( $(date +%s) - start )) s)"
fi
LIB_STAGE=$STAGE$LIBDIR
REALLIB=$(basename "$(readlink -f "$LIB_STAGE/libcolorize.so")")
SONAME=$(readelf -d "$LIB_STAGE/$REALLIB" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$SONAME" = "libcolorize.so.$SONAME_VERSION" ] || die "SONAME is '$SONAME', expected libcolorize.so.$SONAME_VERSION"
for f in libcolorize.a pkgconfig/colorize.pc "$SONAME"; do
    [ -e "$LIB_STAGE/$f" ] || die "cargo cinstall installed no $LIBDIR/$f"
done
cmp -s include/colorize.h "$STAGE/usr/include/colorize.h" || die "installed colorize.h differs from include/colorize.h"

say "man page and completions, from the command's clap definition"
mkdir -p "$WORK/gen"
"$CLI" generate-man >"$WORK/gen/colorize.1"
for shell in bash zsh fish; do
    "$CLI" generate-completions "$shell" >"$WORK/gen/colorize.$shell"
    [ -s "$WORK/gen/colorize.$shell" ] || die "empty $shell completion"
done
grep -q '^\.TH colorize 1' "$WORK/gen/colorize.1" || die "generate-man wrote no man page"

say "THIRD-PARTY: the crates linked into the library and into the command (cargo metadata)"
third_party() {  # FEATURES-ARGS...
    cargo metadata --format-version 1 --locked --offline --filter-platform "$(rustc -vV | sed -n 's/^host: //p')" "$@" |
        python3 -c '
import json, sys
meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
root = meta["resolve"]["root"]
seen, todo = set(), [root]
while todo:
    node = nodes[todo.pop()]
    for dep in node["deps"]:
        # Normal dependencies only: build scripts and tests are not in the binaries.
        if any(k["kind"] is None for k in dep["dep_kinds"]) and dep["pkg"] not in seen:
            seen.add(dep["pkg"])
            todo.append(dep["pkg"])
rows = sorted((packages[i]["name"], packages[i]["version"], packages[i]["license"] or "see its source") for i in seen)
print("Rust crates linked statically into this package'"'"'s binaries (name, version, licence).")
print("The vendored tract-core and tract-linalg carry the changes in vendor/README.md.")
print()
for name, version, licence in rows:
    print(f"{name} {version}: {licence}")
'
}
third_party --no-default-features >"$WORK/gen/THIRD-PARTY.lib"
third_party --features train,bench >"$WORK/gen/THIRD-PARTY.cli"
grep -q '^tract-core ' "$WORK/gen/THIRD-PARTY.lib" || die "THIRD-PARTY of the library lacks tract-core"

# ---- the packages ------------------------------------------------------------------------
# The library, its development files, the command and the models are the same binaries for
# both releases (built on Debian 12, they run on Debian 13): they are packaged once, version
# $VERSION-1, and each release's folder holds them (hard links) beside its own plug-in
# package (Debian 13: $VERSION-1; Debian 12: $VERSION-1~deb12, older, so that an upgrade to
# 13 replaces it).
tree=$WORK/tree                # a debian/ tree as dpkg-shlibdeps expects it
deb=$tree/debian
COMMON="$LIBPKG libcolorize-dev colorize colorize-models"

# start_package PACKAGE VERSION DISTRIBUTION: its folder with the documentation every
# package carries (copyright, changelog, lintian overrides).
start_package() {
    p=$1
    rm -rf "${deb:?}/$p"
    mkdir -p "$deb/$p/DEBIAN" "$deb/$p/usr/share/doc/$p"
    cp packaging/debian/copyright "$deb/$p/usr/share/doc/$p/copyright"
    {
        echo "colorize ($2) $3; urgency=medium"
        echo
        echo "  * Built from the colorize source tree by scripts/package-deb.sh."
        echo
        echo " -- $MAINTAINER  $CHANGELOG_DATE"
    } | gzip -9n >"$deb/$p/usr/share/doc/$p/changelog.Debian.gz"
    if [ -f "packaging/debian/$p.lintian-overrides" ]; then
        mkdir -p "$deb/$p/usr/share/lintian/overrides"
        cp "packaging/debian/$p.lintian-overrides" "$deb/$p/usr/share/lintian/overrides/$p"
    fi
}

# finish_package PACKAGE DEST-FOLDER: md5sums, then the .deb.
finish_package() {
    (cd "$deb/$1" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z |
        xargs -0r md5sum >DEBIAN/md5sums)
    # shellcheck disable=SC2086 # the options are words
    SOURCE_DATE_EPOCH=$EPOCH dpkg-deb --root-owner-group $COMPRESSION --build "$deb/$1" "$2/" >/dev/null
}
# xz (Debian's default) at its fastest level: the libraries and models (ONNX weights)
# compress little better at -6 and take several times longer.
COMPRESSION=${COLORIZE_DEB_COMPRESSION:--Zxz -z1}

shlibs() { sed -n 's/^shlibs:Depends=//p' "$deb/$1.substvars"; }

build_common() {
    mkdir -p "$deb"
    printf 'Source: colorize\n\nPackage: %s\nArchitecture: any\n\nPackage: libcolorize-dev\nArchitecture: any\n\nPackage: colorize\nArchitecture: any\n\nPackage: colorize-models\nArchitecture: all\n\nPackage: gimp-plugin-colorize\nArchitecture: any\n' \
        "$LIBPKG" >"$deb/control"
    debversion=$VERSION-1
    for p in $COMMON; do start_package "$p" "$debversion" unstable; done

    # libcolorize0.1: the library under its file name and its SONAME link.
    d=$deb/$LIBPKG
    install -d "$d$LIBDIR"
    install -m 644 "$LIB_STAGE/$REALLIB" "$d$LIBDIR/$REALLIB"
    strip --remove-section=.comment --remove-section=.note --strip-unneeded "$d$LIBDIR/$REALLIB"
    [ "$REALLIB" = "$SONAME" ] || ln -s "$REALLIB" "$d$LIBDIR/$SONAME"
    cp packaging/debian/ATTRIBUTION "$d/usr/share/doc/$LIBPKG/"
    cp "$WORK/gen/THIRD-PARTY.lib" "$d/usr/share/doc/$LIBPKG/THIRD-PARTY"
    echo "libcolorize $SONAME_VERSION $LIBPKG (>= $VERSION)" >"$d/DEBIAN/shlibs"
    echo "activate-noawait ldconfig" >"$d/DEBIAN/triggers"

    # libcolorize-dev: header, pkg-config file, the link for -lcolorize, the static library.
    d=$deb/libcolorize-dev
    install -d "$d/usr/include" "$d$LIBDIR/pkgconfig"
    install -m 644 "$STAGE/usr/include/colorize.h" "$d/usr/include/colorize.h"
    install -m 644 "$LIB_STAGE/pkgconfig/colorize.pc" "$d$LIBDIR/pkgconfig/colorize.pc"
    ln -s "$SONAME" "$d$LIBDIR/libcolorize.so"
    install -m 644 "$LIB_STAGE/libcolorize.a" "$d$LIBDIR/libcolorize.a"
    strip --strip-debug --remove-section=.comment --remove-section=.note \
        --enable-deterministic-archives "$d$LIBDIR/libcolorize.a"
    cp "$WORK/gen/THIRD-PARTY.lib" "$d/usr/share/doc/libcolorize-dev/THIRD-PARTY"

    # colorize: the command, its man page and completions.
    d=$deb/colorize
    install -d "$d/usr/bin" "$d/usr/share/man/man1" "$d/usr/share/bash-completion/completions" \
        "$d/usr/share/zsh/vendor-completions" "$d/usr/share/fish/vendor_completions.d"
    install -m 755 "$CLI" "$d/usr/bin/colorize"
    strip --remove-section=.comment --remove-section=.note "$d/usr/bin/colorize"
    gzip -9n <"$WORK/gen/colorize.1" >"$d/usr/share/man/man1/colorize.1.gz"
    install -m 644 "$WORK/gen/colorize.bash" "$d/usr/share/bash-completion/completions/colorize"
    install -m 644 "$WORK/gen/colorize.zsh" "$d/usr/share/zsh/vendor-completions/_colorize"
    install -m 644 "$WORK/gen/colorize.fish" "$d/usr/share/fish/vendor_completions.d/colorize.fish"
    cp packaging/debian/ATTRIBUTION "$d/usr/share/doc/colorize/"
    cp "$WORK/gen/THIRD-PARTY.cli" "$d/usr/share/doc/colorize/THIRD-PARTY"

    # colorize-models: the installable models, in the library's system model folder.
    d=$deb/colorize-models
    install -d "$d/usr/share/colorize/models"
    install -m 644 models/*.onnx "$d/usr/share/colorize/models/"
    cp packaging/debian/ATTRIBUTION "$d/usr/share/doc/colorize-models/"

    # Depends from the binaries.
    (cd "$tree" && dpkg-shlibdeps -T"debian/$LIBPKG.substvars" "debian/$LIBPKG$LIBDIR/$REALLIB" &&
        dpkg-shlibdeps -Tdebian/colorize.substvars debian/colorize/usr/bin/colorize)

    control "$LIBPKG" "$ARCH" libs "Multi-Arch: same
Depends: $(shlibs "$LIBPKG")
Suggests: colorize-models" \
"plausible colour for black-and-white photographs (library)" \
" libcolorize adds plausible colour to black-and-white photographs: a network
 sees only the lightness (CIE L*) of a photo and predicts its colour; the
 lightness is kept exactly. The library embeds a general default model and a
 few specialised ones, and finds installed models by name
 (COLORIZE_MODEL_PATH, ~/.local/share/colorize/models,
 /usr/share/colorize/models).
 .
 This package holds the shared library with its C ABI."
    control libcolorize-dev "$ARCH" libdevel "Multi-Arch: same
Depends: $LIBPKG (= $debversion)" \
"plausible colour for black-and-white photographs (development files)" \
" libcolorize adds plausible colour to black-and-white photographs, keeping
 each photo's lightness exactly.
 .
 This package holds the C header colorize.h, the pkg-config file colorize.pc
 and the shared and static libraries to link with:
 cc app.c \$(pkg-config --cflags --libs colorize)"
    control colorize "$ARCH" graphics "Depends: $(shlibs colorize)
Recommends: colorize-models" \
"command-line tool to colorize black-and-white photographs" \
" colorize adds plausible colour to black-and-white photographs, keeping each
 photo's lightness exactly: files, folders, globs and standard input and
 output, in PNG, JPEG, TIFF, WebP and other formats, with colour management
 and metadata kept.
 .
 It embeds the same models as libcolorize (it is built from the same Rust
 library, linked statically as Rust programs are) and finds installed models
 the same way."
    control colorize-models all graphics "Multi-Arch: foreign
Enhances: colorize, $LIBPKG, gimp-plugin-colorize" \
"colorization models for colorize, installable by name" \
" Models for libcolorize, the colorize command and the GIMP plug-in that are
 not embedded in the library: outdoor-man-made and outdoor-natural, trained
 on the MiniPlaces photos of those groups. They are installed in
 /usr/share/colorize/models, which the library searches by default, so
 \"colorize --model outdoor-natural\" works with no set-up."

    mkdir -p "$WORK/common"
    for p in $COMMON; do finish_package "$p" "$WORK/common"; done
}

# build_plugin_package RELEASE: gimp-plugin-colorize for that release's GIMP, into
# $OUT/$release beside the common packages.
build_plugin_package() {
    release=$1
    case $release in
        trixie) debversion=$VERSION-1; gimp=3.0; gimpdepends="gimp (>= 3.0)"
                plugindir=$LIBDIR/gimp/3.0/plug-ins/colorize ;;
        bookworm) debversion=$VERSION-1~deb12; gimp=2.10; gimpdepends="gimp (>= 2.10), gimp (<< 3.0)"
                  plugindir=/usr/lib/gimp/2.0/plug-ins/colorize ;;
    esac
    start_package gimp-plugin-colorize "$debversion" "$release"
    d=$deb/gimp-plugin-colorize
    install -d "$d$plugindir"
    rm -f "$deb/gimp-plugin-colorize.substvars"
    build_plugin "$release" "$d$plugindir/colorize"
    # The dialog's Help page: the plug-in registers help/ beside itself as its help domain.
    install -d "$d$plugindir/help/en"
    install -m 644 plugins/common/help/en/gimp-help.xml plugins/common/help/en/index.html \
        "$d$plugindir/help/en/"
    if [ "$release" = bookworm ]; then
        (cd "$tree" && dpkg-shlibdeps -Tdebian/gimp-plugin-colorize.substvars \
            "debian/gimp-plugin-colorize$plugindir/colorize")
    fi
    shlibs gimp-plugin-colorize | grep -q "$LIBPKG" ||
        die "the plug-in's Depends lack $LIBPKG: $(cat "$deb/gimp-plugin-colorize.substvars")"
    control gimp-plugin-colorize "$ARCH" graphics "Depends: $(shlibs gimp-plugin-colorize), $gimpdepends
Recommends: colorize-models" \
"GIMP $gimp plug-in: colorize black-and-white photographs" \
" Adds Colors > Colorize (neural)... to GIMP $gimp and the PDB procedure
 plug-in-colorize, which colorizes layers and selections with libcolorize,
 keeping their lightness exactly."

    mkdir -p "$OUT/$release"
    rm -f "$OUT/$release"/*.deb
    ln -f "$WORK/common"/*.deb "$OUT/$release/"
    finish_package gimp-plugin-colorize "$OUT/$release"
    say "$release: $(cd "$OUT/$release" && for f in *.deb; do printf '%s (%s KB) ' "$f" $(( $(stat -c %s "$f") / 1024 )); done)"
}

# control PACKAGE ARCHITECTURE SECTION EXTRA-FIELDS SYNOPSIS DESCRIPTION
control() {
    d=$deb/$1
    size=$(du -k -s --apparent-size --exclude=DEBIAN "$d" | cut -f1)
    cat >"$d/DEBIAN/control" <<EOF
Package: $1
Source: colorize
Version: $debversion
Architecture: $2
Maintainer: $MAINTAINER
Installed-Size: $size
$4
Section: $3
Priority: optional
Description: $5
$6
EOF
}

# build_plugin RELEASE DEST: compiles the plug-in with that release's GIMP (Debian's build
# flags, no rpath: the packaged plug-in uses the system's libcolorize) and writes it,
# stripped, to DEST. For trixie this runs in the GIMP 3 chroot, with dpkg-shlibdeps.
build_plugin() {
    release=$1 dest=$2
    if [ "$release" = bookworm ]; then
        dpkg -s libgimp2.0-dev >/dev/null 2>&1 || apt-get install -y -qq libgimp2.0-dev >/dev/null
        src=$WORK/plugin-src
        stage_plugin_inputs "$src"
        make -s -C plugins/gimp-2.10 BUILD="$src/build" COLORIZE_LIBDIR="$src/lib" \
            COLORIZE_INCLUDE="$src/include" PLUGIN_RPATH= \
            CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS) -Wno-deprecated-declarations" \
            LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
        install -m 755 "$src/build/colorize" "$dest"
    else
        chroot_sh=tests/gimp/gimp3-chroot.sh
        "$chroot_sh" setup
        chroot=$("$chroot_sh" path)
        if [ ! -x "$chroot/usr/bin/dpkg-shlibdeps" ]; then
            say "installing dpkg-dev in the GIMP 3 chroot (dpkg-shlibdeps, dpkg-buildflags)"
            "$chroot_sh" run sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null && apt-get clean'
        fi
        inside=/tmp/colorize-deb
        src=$chroot$inside
        rm -rf "$src"
        stage_plugin_inputs "$src"
        cp -r plugins/common plugins/gimp-3 "$src/plugins/"
        rm -rf "$src/plugins/gimp-3/build"
        # the debian/ tree dpkg-shlibdeps needs: the library package with its shlibs file
        mkdir -p "$src/tree/debian/$LIBPKG/DEBIAN" "$src/tree/debian/$LIBPKG$LIBDIR" \
            "$src/tree/debian/gimp-plugin-colorize/DEBIAN" "$src/tree/debian/gimp-plugin-colorize$plugindir"
        cp "$deb/control" "$src/tree/debian/control"
        cp "$deb/$LIBPKG/DEBIAN/shlibs" "$src/tree/debian/$LIBPKG/DEBIAN/"
        cp -P "$deb/$LIBPKG$LIBDIR"/libcolorize.so.* "$src/tree/debian/$LIBPKG$LIBDIR/"
        "$chroot_sh" run sh -c "set -e
            cd $inside
            make -s -C plugins/gimp-3 BUILD=$inside/build COLORIZE_LIBDIR=$inside/lib \
                COLORIZE_INCLUDE=$inside/include PLUGIN_RPATH= \
                CFLAGS=\"\$(dpkg-buildflags --get CFLAGS) \$(dpkg-buildflags --get CPPFLAGS) -Wno-ignored-qualifiers\" \
                LDFLAGS=\"\$(dpkg-buildflags --get LDFLAGS)\"
            install -m 755 build/colorize tree/debian/gimp-plugin-colorize$plugindir/colorize
            strip --remove-section=.comment --remove-section=.note tree/debian/gimp-plugin-colorize$plugindir/colorize
            cd tree
            dpkg-shlibdeps -Tdebian/gimp-plugin-colorize.substvars debian/gimp-plugin-colorize$plugindir/colorize"
        install -m 755 "$src/tree/debian/gimp-plugin-colorize$plugindir/colorize" "$dest"
        cp "$src/tree/debian/gimp-plugin-colorize.substvars" "$deb/"
        rm -rf "$src"
    fi
    strip --remove-section=.comment --remove-section=.note "$dest"
    if readelf -d "$dest" | grep -q -e RPATH -e RUNPATH; then die "the plug-in has an rpath"; fi
    readelf -d "$dest" | grep -q "NEEDED.*\[$SONAME\]" || die "the plug-in does not need $SONAME"
}

# The header and the staged library (with the libcolorize.so link that -lcolorize needs).
stage_plugin_inputs() {
    mkdir -p "$1/include" "$1/lib" "$1/plugins"
    cp include/colorize.h "$1/include/"
    cp -P "$LIB_STAGE"/libcolorize.so* "$1/lib/"
}

say "---- the library, its development files, the command, the models"
build_common
for release in $releases; do
    say "---- $release: the GIMP plug-in"
    build_plugin_package "$release"
done

[ "${COLORIZE_DEB_LINT:-now}" = later ] || lint
say "done: $(for r in $releases; do printf '%s ' "$OUT/$r/"; done)"
