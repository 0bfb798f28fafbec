'use strict';

// `npm run build:platforms [-- <platform>...]`: the four Linux addons, cross-compiled with
// cargo-zigbuild into npm/<platform>/civic-sip-native.<platform>.node, as they are published.
// The glibc builds link against glibc 2.17's symbol versions (zig's `.2.17` target suffix), so they
// load on CentOS 7 era distributions; the musl builds link musl's libc dynamically (a cdylib
// cannot be a static executable: crt-static off). Needs ziglang and cargo-zigbuild from PyPI and
// the Rust targets, which `scripts/install-test-tools.sh build` installs.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { replaceAddon } = require('./build');
const ALL = require('./platforms');

const root = path.resolve(__dirname, '..');
// Absolute, as cargo-zigbuild and napi resolve a relative one against their own working directory.
const targetDir = path.join(root, 'target', 'cross');

// The Linux rows of the one platform table (scripts/platforms.js): the ones built here.
const PLATFORMS = Object.fromEntries(Object.entries(ALL.PLATFORMS).filter(([, p]) => p.zig));
// Pinned: a new zig or cargo-zigbuild can change what the artifacts link against.
const PYPI_TOOLS = ['ziglang==0.17.1', 'cargo-zigbuild==0.24.0'];

const addonPath = (platform) => path.join(root, 'npm', platform, `civic-sip-native.${platform}.node`);

function quiet(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return null;
  }
}

function run(cmd, args, env) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
}

// What the build needs and lacks: the pinned PyPI tools not installed at their pinned versions,
// and the Rust targets rustup has not installed.
function missingTools(platforms = Object.keys(PLATFORMS)) {
  const zigbuild = (quiet('cargo-zigbuild', ['--version']) ?? '').trim();
  const zig = (quiet('python3', ['-m', 'ziglang', 'version']) ?? '').trim();
  const pypi = PYPI_TOOLS.filter((tool) => (tool.startsWith('ziglang==')
    ? tool !== `ziglang==${zig}`
    : tool !== `cargo-zigbuild==${zigbuild.split(' ')[1]}`));
  const installed = (quiet('rustup', ['target', 'list', '--installed']) ?? '').split('\n');
  const targets = platforms.map((p) => PLATFORMS[p].triple).filter((t) => !installed.includes(t));
  return { pypi, targets };
}

// Installs nothing: scripts/install-test-tools.sh does (`build` for the cross-build tools only).
function checkTools(platforms) {
  const { pypi, targets } = missingTools(platforms);
  const missing = [...pypi, ...targets.map((t) => `rustup target ${t}`)];
  if (missing.length) {
    throw new Error(`missing ${missing.join(', ')}: run scripts/install-test-tools.sh build`);
  }
}

function buildPlatforms(platforms = Object.keys(PLATFORMS)) {
  for (const p of platforms) if (!PLATFORMS[p]) throw new Error(`unknown platform ${p}; one of ${Object.keys(PLATFORMS).join(', ')}`);
  checkTools(platforms);
  const env = {};
  for (const p of platforms) {
    if (p.endsWith('-musl')) env[`CARGO_TARGET_${PLATFORMS[p].triple.toUpperCase().replace(/-/g, '_')}_RUSTFLAGS`] = '-C target-feature=-crt-static';
  }
  // One cargo run for all targets: the build scripts and proc macros are built once.
  const targets = platforms.flatMap((p) => ['--target', PLATFORMS[p].zig]);
  run('cargo', ['zigbuild', '--release', '--lib', '--target-dir', targetDir, ...targets], env);
  return platforms.map((p) => {
    const built = path.join(targetDir, PLATFORMS[p].triple, 'release', ALL.libraryName(p));
    replaceAddon(built, addonPath(p));
    console.log(`${path.relative(root, addonPath(p))}: ${fs.statSync(built).size} bytes`);
    return addonPath(p);
  });
}

module.exports = { PLATFORMS, PYPI_TOOLS, addonPath, buildPlatforms, missingTools };

if (require.main === module) {
  try {
    buildPlatforms(process.argv.length > 2 ? process.argv.slice(2) : undefined);
  } catch (error) {
    console.error(error.message);
    process.exitCode = 1;
  }
}
