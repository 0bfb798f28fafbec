'use strict';

// The one way the addon is built: `cargo build --release --lib`, then the library copied to the
// name binding.js loads, `civic-sip-native.<platform>.node`. The demo, the tests, the benchmark,
// the packer and the release workflow all build through here; a fresh clone needs Rust only, no
// npm install. `npm run build [-- --target <rust target>]` (the release workflow's macOS and
// Windows builds pass their target, and get the macOS deployment target of scripts/platforms.js);
// scripts/build-platforms.js cross-compiles every platform here with the same table.
//
// The napi CLI builds nothing here: `npm run build:bindings` runs it only to regenerate binding.js
// and binding.d.ts after a change to the `#[napi]` items. It forces a rebuild on every run and
// builds with other environment variables, so cargo would rebuild again after it: kept apart,
// each build is incremental.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const {
  buildEnv, hostPlatform, libraryName, platformOf,
} = require('./platforms');

const root = path.resolve(__dirname, '..');

let cachedTargetDir;

/**
 * cargo's target directory, as cargo itself resolves it (`cargo metadata`): CARGO_TARGET_DIR,
 * CARGO_BUILD_TARGET_DIR, `build.target-dir` in a `.cargo/config.toml`, else target/. Asked once
 * per process for this process's environment.
 */
function targetDir(env = process.env) {
  if (env === process.env && cachedTargetDir) return cachedTargetDir;
  const metadata = execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps', '--offline'], {
    cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20,
  });
  const dir = JSON.parse(metadata.toString()).target_directory;
  if (env === process.env) cachedTargetDir = dir;
  return dir;
}

/**
 * Builds the addon for `triple` (this machine when absent) and puts it in the project's root as
 * `civic-sip-native.<platform>.node`, if cargo rebuilt it or it is missing. Returns its path.
 */
function build({ triple, quiet = false } = {}) {
  const platform = triple ? platformOf(triple) : hostPlatform();
  const addon = path.join(root, `civic-sip-native.${platform}.node`);
  const library = path.join(targetDir(), ...(triple ? [triple] : []), 'release', libraryName(platform));
  if (!quiet) {
    console.error(`Building the native addon (cargo build --release${fs.existsSync(library) ? ', if anything changed' : '; a few minutes the first time'})...`);
  }
  // cargo decides what is stale; a no-op build takes well under a second. Unless quiet, cargo
  // shows what it compiles, so a rebuild after a pull is not a silent minute.
  const args = ['build', '--release', '--lib', ...(quiet ? ['--quiet'] : []), ...(triple ? ['--target', triple] : [])];
  // The macOS deployment target comes from scripts/platforms.js, as for the cross builds.
  execFileSync('cargo', args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...buildEnv(platform) } });
  if (!fs.existsSync(addon) || fs.statSync(library).mtimeMs > fs.statSync(addon).mtimeMs) {
    replaceAddon(library, addon);
  }
  return addon;
}

/** This machine's addon, built if stale. */
function ensureBuilt({ quiet = false } = {}) {
  return build({ quiet });
}

/**
 * Puts a copy of `built` at `addon` as a new file renamed over the old one, never by writing into
 * it: a process that has the old addon loaded (a test suite that packs the package while it
 * runs) keeps its mapping of the old file instead of crashing on the new bytes.
 */
function replaceAddon(built, addon) {
  const fresh = `${addon}.${process.pid}.tmp`;
  fs.copyFileSync(built, fresh);
  fs.renameSync(fresh, addon);
}

module.exports = {
  build, ensureBuilt, platformSuffix: hostPlatform, replaceAddon, targetDir,
};

if (require.main === module) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--target');
  const triple = at === -1 ? undefined : args[at + 1];
  const unknown = args.filter((a, i) => !(i === at || (at !== -1 && i === at + 1)));
  try {
    if (unknown.length || (at !== -1 && !triple)) throw new Error(`usage: node scripts/build.js [--target <rust target>] (got ${args.join(' ')})`);
    console.log(path.relative(root, build({ triple })));
  } catch (error) {
    console.error(error.message);
    process.exitCode = 1;
  }
}
