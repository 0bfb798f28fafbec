#!/usr/bin/env bash
# What `npm run test:all` runs on, installed here so that no test script installs anything.
# .ci/run calls it as root; the release workflow calls `scripts/install-test-tools.sh build`.
#
#   build   the cross-build tools of `npm run build:platforms`: ziglang and cargo-zigbuild from
#           PyPI (pinned in scripts/build-platforms.js) and the four Linux Rust targets (rustup).
#   (none)  those, plus: cargo-fuzz (scripts/fuzz-smoke.js); actionlint from PyPI
#           (__test__/workflows.test.js); from Debian, qemu-user, musl's dynamic linkers for x64 and
#           arm64 (__test__/artifacts.test.js), shellcheck (used by actionlint), faketime
#           (__test__/check.test.js's skewed local clock; skipped without it) and chromium
#           (__test__/e2e.test.js, driven by playwright-core); Node 18 to 26, Bun and Deno into
#           target/runtimes/ (scripts/node-lines.js); and Debian's arm64 Node.js unpacked
#           into target/arm64-node/ (not installed: an arm64 `nodejs` package would replace this
#           machine's own Node) for __test__/qemu.test.js. Needs root (apt-get).
# Idempotent: each tool is installed only when it is missing or not the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."

pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }

# Cross builds. The pins live in scripts/build-platforms.js, which checks them before building.
read -r -a pypi_tools <<<"$(node -p "require('./scripts/build-platforms').PYPI_TOOLS.join(' ')")"
node -e "process.exitCode = require('./scripts/build-platforms').missingTools().pypi.length ? 1 : 0" || pip_install "${pypi_tools[@]}"
read -r -a rust_targets <<<"$(node -p "require('./scripts/build-platforms').missingTools().targets.join(' ')")"
if [ "${#rust_targets[@]}" -gt 0 ]; then rustup target add "${rust_targets[@]}"; fi
[ "${1:-}" = build ] && exit 0

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
if command -v qemu-aarch64 >/dev/null && command -v shellcheck >/dev/null && command -v chromium >/dev/null \
  && command -v faketime >/dev/null \
  && [ -x "$dest/usr/bin/node" ] && [ -e /lib/ld-musl-x86_64.so.1 ] && [ -e /lib/ld-musl-aarch64.so.1 ]; then
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
dpkg --add-architecture arm64
apt-get update -qq
apt-get install -y -qq --no-install-recommends qemu-user shellcheck faketime musl musl:arm64 >/dev/null
# With its recommended packages (fonts among them), as a user's install has it.
command -v chromium >/dev/null || apt-get install -y -qq chromium >/dev/null

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
