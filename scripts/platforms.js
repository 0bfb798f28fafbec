'use strict';

// The platforms the package ships are package.json `napi.targets`, written there once; everything
// else about each is computed here from its Rust target triple: napi's platform name (the suffix
// of the `.node` file the loader binding.js looks for, and of the npm/<platform> package), the
// file cargo writes, the zig target cargo-zigbuild links the Linux ones with (glibc 2.17's symbol
// versions for the gnu builds), and the macOS deployment target (the one place it is set: the
// release workflow's native builds and the cross builds of `npm run test:all` both read it here).

const manifest = require('../package.json');

const NODE_ARCH = { x86_64: 'x64', aarch64: 'arm64' };
// The crate's [lib] name (Cargo.toml): cargo's file name for its cdylib.
const CRATE = 'civic_sip_native';
// The oldest macOS each build loads on. x86_64: 10.13, napi-rs/package-template's and the oldest
// the Rust toolchain still supports; arm64: 11.0, the first macOS on Apple silicon (ring's C does
// not build for arm64 with 10.13, and rustc raises it to 11.0 there anyway).
const MACOS_DEPLOYMENT_TARGET = { x86_64: '10.13', aarch64: '11.0' };

/** What a Rust target triple ships as; an error for a triple this package cannot name. */
function describe(triple) {
  const [cpu, vendor, os, abi] = triple.split('-');
  const arch = NODE_ARCH[cpu];
  if (!arch) throw new Error(`${triple}: no Node architecture for ${cpu}`);
  if (os === 'linux' && (abi === 'gnu' || abi === 'musl')) {
    return {
      triple, os: 'linux', arch, abi, platform: `linux-${arch}-${abi}`, library: `lib${CRATE}.so`,
      zig: abi === 'gnu' ? `${triple}.2.17` : triple,
    };
  }
  if (vendor === 'apple' && os === 'darwin') {
    return {
      triple, os: 'darwin', arch, platform: `darwin-${arch}`, library: `lib${CRATE}.dylib`,
      env: { MACOSX_DEPLOYMENT_TARGET: MACOS_DEPLOYMENT_TARGET[cpu] },
    };
  }
  if (os === 'windows' && abi) {
    return { triple, os: 'win32', arch, abi, platform: `win32-${arch}-${abi}`, library: `${CRATE}.dll` };
  }
  throw new Error(`${triple}: not a target this package knows how to name`);
}

const PLATFORMS = Object.fromEntries(manifest.napi.targets.map((t) => {
  const { platform, ...rest } = describe(t);
  return [platform, rest];
}));

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
  if (!PLATFORMS[platform]) throw new Error(`unknown platform ${platform}; one of ${Object.keys(PLATFORMS).join(', ')}`);
  return PLATFORMS[platform].library;
}

/** The environment a build for `platform` needs on any host (the deployment target on macOS). */
function buildEnv(platform) {
  return { ...(PLATFORMS[platform]?.env ?? {}) };
}

module.exports = {
  PLATFORMS, MACOS_DEPLOYMENT_TARGET, describe, platformOf, hostPlatform, libraryName, buildEnv,
};
