#!/usr/bin/env bash
# What the tests of the other platforms' builds run on, from Debian: qemu-user; Debian's arm64
# Node.js unpacked into target/arm64-node/ (not installed: an arm64 `nodejs` package would replace
# this machine's own Node) for __test__/qemu.test.js; musl's dynamic linker for x64 and arm64 for
# __test__/artifacts.test.js; shellcheck, which actionlint uses on the workflows' `run:` scripts.
# Needs root (apt-get); .ci/run runs it. Idempotent: does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/arm64-node

if command -v qemu-aarch64 >/dev/null && command -v shellcheck >/dev/null && [ -x "$dest/usr/bin/node" ] \
  && [ -e /lib/ld-musl-x86_64.so.1 ] && [ -e /lib/ld-musl-aarch64.so.1 ]; then
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
dpkg --add-architecture arm64
apt-get update -qq
apt-get install -y -qq --no-install-recommends qemu-user shellcheck musl musl:arm64 >/dev/null

debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
chmod 755 "$debs" # apt downloads as its _apt user
# The package and its dependency closure, as apt would install them on an arm64 machine; only
# downloaded. Debian's Node uses system copies of some builtins (undici, acorn, cjs-module-lexer),
# which come as architecture-independent packages.
apt-get install -y -qq --download-only --no-install-recommends -o Dir::Cache::archives="$debs" nodejs:arm64 >/dev/null
rm -rf "$dest"
mkdir -p "$dest"
for deb in "$debs"/*_arm64.deb "$debs"/*_all.deb; do
  dpkg-deb -x "$deb" "$dest"
done
qemu-aarch64 -L "$dest" "$dest/usr/bin/node" -p '"arm64 Node " + process.version + " under qemu-user: ready"'
