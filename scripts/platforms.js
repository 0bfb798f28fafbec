'use strict';

// The seven platforms the package ships, in one table: napi's platform name (the suffix of the
// `.node` file the loader binding.js looks for, and of the npm/<platform> package), the Rust
// target that builds it, and for the Linux ones the zig target that cargo-zigbuild links with
// (glibc 2.17's symbol versions for the gnu builds). package.json `napi.targets` lists the same
// targets; __test__/build.test.js keeps them equal.

const PLATFORMS = {
  'linux-x64-gnu': { triple: 'x86_64-unknown-linux-gnu', zig: 'x86_64-unknown-linux-gnu.2.17' },
  'linux-arm64-gnu': { triple: 'aarch64-unknown-linux-gnu', zig: 'aarch64-unknown-linux-gnu.2.17' },
  'linux-x64-musl': { triple: 'x86_64-unknown-linux-musl', zig: 'x86_64-unknown-linux-musl' },
  'linux-arm64-musl': { triple: 'aarch64-unknown-linux-musl', zig: 'aarch64-unknown-linux-musl' },
  'darwin-x64': { triple: 'x86_64-apple-darwin' },
  'darwin-arm64': { triple: 'aarch64-apple-darwin' },
  'win32-x64-msvc': { triple: 'x86_64-pc-windows-msvc' },
};

/** The platform a Rust target builds for, or an error naming the targets there are. */
function platformOf(triple) {
  const found = Object.keys(PLATFORMS).find((p) => PLATFORMS[p].triple === triple);
  if (!found) {
    throw new Error(`unknown target ${triple}; one of ${Object.values(PLATFORMS).map((p) => p.triple).join(', ')}`);
  }
  return found;
}

/** This machine's platform, named as binding.js names it (musl told apart from glibc). */
function hostPlatform() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const musl = !process.report.getReport().header.glibcVersionRuntime;
    return `linux-${arch}-${musl ? 'musl' : 'gnu'}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

/** The file cargo writes for the crate's cdylib on `platform`. */
function libraryName(platform) {
  if (platform.startsWith('win32-')) return 'civic_sip_native.dll';
  if (platform.startsWith('darwin-')) return 'libcivic_sip_native.dylib';
  return 'libcivic_sip_native.so';
}

module.exports = { PLATFORMS, platformOf, hostPlatform, libraryName };
