#!/bin/bash
# Rebuild vendor/tract-core and vendor/tract-linalg from the crates as published on crates.io
# plus the patch series in vendor/patches (vendor/README.md):
#
#   scripts/update-tract.sh [VERSION]            replace vendor/ with VERSION + the series
#   scripts/update-tract.sh --check [VERSION]    only compare that result with vendor/ as it
#                                                is (exit 1 on any difference, 0 if identical)
#   scripts/update-tract.sh VERSION --build      replace, then build the suite and run the
#                                                precision tests on the new tract
#
# VERSION defaults to the version vendor/ holds now. The crates come from cargo's download
# cache when it has them, else from static.crates.io, checked against the index's checksum.
# Each patch is applied with `git apply` (no fuzz: a patch whose context moved fails, named,
# rather than landing in the wrong place); on a conflict the work folder is kept, with the
# rejected hunks in *.rej files, for rebasing the patch by hand.
#
# Moving to another version also moves the lock files' tract crates to it: tract-onnx pins
# tract-core and its siblings to its own exact version, so the patched path crates are only
# used when tract-onnx is at the same version.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
vendor=$root/vendor
patches=$vendor/patches
crates=(tract-core tract-linalg)

usage() {
  echo "usage: $0 [--check | --build] [VERSION]" >&2
  exit 2
}

check=false
build=false
version=
for arg in "$@"; do
  case $arg in
    --check) check=true ;;
    --build) build=true ;;
    -h | --help) usage ;;
    -*) echo "unknown option $arg" >&2; usage ;;
    *) [ -z "$version" ] || usage; version=$arg ;;
  esac
done
if $check && $build; then
  echo "--check compares only; --build goes with an update" >&2
  exit 2
fi

# The version of a crate folder, from its (normalised, published) Cargo.toml.
crate_version() {
  sed -n '/^\[package\]/,/^\[/ s/^version = "\(.*\)"$/\1/p' "$1/Cargo.toml" | head -n 1
}
current=$(crate_version "$vendor/tract-core")
version=${version:-$current}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+.][0-9A-Za-z.-]+)?$ ]] || {
  echo "not a version: $version" >&2
  exit 2
}

work=$(mktemp -d "${TMPDIR:-/tmp}/update-tract.XXXXXX")
keep_work=false
cleanup() { $keep_work || rm -rf "$work"; }
trap cleanup EXIT

# sha256 of NAME VERSION as the registry's index records it.
index_checksum() {
  local name=$1 version=$2 path
  case ${#name} in
    1) path=1/$name ;;
    2) path=2/$name ;;
    3) path=3/${name:0:1}/$name ;;
    *) path=${name:0:2}/${name:2:2}/$name ;;
  esac
  # One JSON object per line; no JSON parser needed for two string fields (spaces after the
  # colons allowed, as some mirrors write them).
  curl -sSfL "https://index.crates.io/$path" |
    grep -E "\"vers\": ?\"${version//./\\.}\"" |
    sed -n 's/.*"cksum": \{0,1\}"\([0-9a-f]\{64\}\)".*/\1/p' | head -n 1
}

# NAME-VERSION.crate into $work, from cargo's cache (already checked by cargo) or the network.
fetch() {
  local name=$1 file=$1-$2.crate cached sum expected
  cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$file" 2>/dev/null | head -n 1 || true)
  if [ -n "$cached" ]; then
    cp "$cached" "$work/$file"
    return
  fi
  echo "downloading $file"
  expected=$(index_checksum "$name" "$2") || true
  [ -n "$expected" ] || { echo "$name $2 is not in the crates.io index (or it is unreachable)" >&2; exit 1; }
  curl -sSfL -o "$work/$file" "https://static.crates.io/crates/$name/$file"
  sum=$(sha256sum "$work/$file" | cut -d' ' -f1)
  [ "$sum" = "$expected" ] || { echo "$file: checksum $sum, the index says $expected" >&2; exit 1; }
}

mkdir "$work/tree"
for name in "${crates[@]}"; do
  fetch "$name" "$version"
  tar -xzf "$work/$name-$version.crate" -C "$work"
  mv "$work/$name-$version" "$work/tree/$name"
  # The published tract-linalg carries files nothing builds from (core dumps, a spreadsheet
  # of benchmark results); they are left out of vendor/.
  find "$work/tree/$name" -maxdepth 1 -type f \( -name core -o -name 'core.[0-9]*' -o -name '*.xlsx' \) \
    -printf "left out: $name/%f\n" -delete
  # cargo's own mark of a fully unpacked crate, as in its registry folder.
  printf '{"v":1}' > "$work/tree/$name/.cargo-ok"
done

# The series, in order, on the published sources (a repository of their own, so that
# `git apply` takes paths relative to them wherever $TMPDIR lies).
git -C "$work/tree" init -q
shopt -s nullglob
series=("$patches"/[0-9][0-9][0-9][0-9]-*.patch)
[ ${#series[@]} -gt 0 ] || { echo "no patches in $patches" >&2; exit 1; }
for patch in "${series[@]}"; do
  if ! git -C "$work/tree" apply --whitespace=nowarn "$patch" 2> "$work/apply.err"; then
    keep_work=true
    git -C "$work/tree" apply --reject --whitespace=nowarn "$patch" > /dev/null 2>&1 || true
    echo "FAILED: $(basename "$patch") does not apply on tract $version:" >&2
    sed 's/^/  /' "$work/apply.err" >&2
    echo "work folder kept: $work/tree (rejected hunks in *.rej; earlier patches applied)" >&2
    exit 1
  fi
done
rm -rf "$work/tree/.git"
echo "applied ${#series[@]} patches on tract-core and tract-linalg $version"

if $check; then
  status=0
  for name in "${crates[@]}"; do
    if ! diff -r "$work/tree/$name" "$vendor/$name" > "$work/$name.diff" 2>&1; then
      status=1
      echo "vendor/$name differs from $version + vendor/patches:"
      sed 's/^/  /' "$work/$name.diff" | head -n 60
    fi
  done
  if [ $status -eq 0 ]; then
    echo "no difference: vendor/tract-core and vendor/tract-linalg are $version + vendor/patches"
  fi
  exit $status
fi

for name in "${crates[@]}"; do
  rm -rf "${vendor:?}/$name"
  mv "$work/tree/$name" "$vendor/$name"
done
echo "vendor/tract-core and vendor/tract-linalg replaced with $version + vendor/patches"

if [ "$version" != "$current" ]; then
  # tract-onnx requires tract-core, tract-hir, ... at exactly its own version: move it (and
  # with it the other tract crates) to the vendored version, in each lock using vendor/.
  for dir in "$root" "$root/fuzz"; do
    if [ -f "$dir/Cargo.lock" ] && grep -q '^name = "tract-onnx"$' "$dir/Cargo.lock"; then
      echo "Cargo.lock in ${dir#"$root"/}: tract crates $current -> $version"
      (cd "$dir" && cargo update --quiet \
        -p tract-onnx -p tract-onnx-opl -p tract-hir -p tract-nnef -p tract-extra -p tract-data \
        --precise "$version")
    fi
  done
fi

if $build; then
  "$root/scripts/cargo-suite.sh" build
  "$root/scripts/cargo-suite.sh" test --test precision
fi
