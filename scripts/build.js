'use strict';

// Builds the native addon with cargo alone (cargo decides what is stale), so a fresh clone needs
// no npm install to run the demo. (`npm run build` uses the napi CLI, which
// also regenerates binding.js and binding.d.ts.)

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function platformSuffix() {
  const { platform, arch } = process;
  if (platform === 'linux') {
    const musl = !process.report.getReport().header.glibcVersionRuntime;
    return `linux-${arch}-${musl ? 'musl' : 'gnu'}`;
  }
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function libraryName() {
  if (process.platform === 'win32') return 'civic_sip_native.dll';
  if (process.platform === 'darwin') return 'libcivic_sip_native.dylib';
  return 'libcivic_sip_native.so';
}

function ensureBuilt({ quiet = false } = {}) {
  const addon = path.join(root, `civic-sip-native.${platformSuffix()}.node`);
  const library = path.join(root, 'target', 'release', libraryName());
  if (!quiet && !fs.existsSync(library)) {
    console.error('Building the native addon (cargo build --release; a few minutes the first time)...');
  }
  // cargo decides what is stale; a no-op build takes well under a second.
  execFileSync('cargo', ['build', '--release', '--lib', '--quiet'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (!fs.existsSync(addon) || fs.statSync(library).mtimeMs > fs.statSync(addon).mtimeMs) {
    replaceAddon(library, addon);
  }
  return addon;
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

module.exports = { ensureBuilt, platformSuffix, replaceAddon };

if (require.main === module) ensureBuilt();
