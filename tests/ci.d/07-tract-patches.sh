#!/bin/sh
# The vendored tract is the published crates plus vendor/patches, exactly: downloads
# tract-core and tract-linalg at vendor/'s version, applies the series and compares the result
# with vendor/ (scripts/update-tract.sh --check). A change made in vendor/ without its patch,
# or a patch edited without vendor/, fails here. A few seconds; needs crates.io unless cargo's
# download cache holds both crates; offline it says "skipped" and exits 77.
set -eu
cd "$(dirname "$0")/../.."
version=$(sed -n '/^\[package\]/,/^\[/ s/^version = "\(.*\)"$/\1/p' vendor/tract-core/Cargo.toml | head -n 1)
cached=true
for name in tract-core tract-linalg; do
  ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$name-$version.crate" >/dev/null 2>&1 || cached=false
done
if ! $cached && ! curl -sSfI --max-time 15 -o /dev/null \
  "https://static.crates.io/crates/tract-core/tract-core-$version.crate" 2>/dev/null; then
  echo "skipped: crates.io unreachable, and cargo's cache lacks tract-core/tract-linalg $version (needed to rebuild vendor/ from the patches)"
  exit 77
fi
exec scripts/update-tract.sh --check "$version"
