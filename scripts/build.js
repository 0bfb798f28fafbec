'use strict';

// Builds the native addon when it is missing or older than its sources, with cargo alone, so a
// fresh clone needs no npm install to run the demo. (`npm run build` uses the napi CLI, which
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

function newestSource() {
  let newest = 0;
  const visit = (p) => {
    const st = fs.statSync(p);
    if (st.isDirectory()) fs.readdirSync(p).forEach((f) => visit(path.join(p, f)));
    else newest = Math.max(newest, st.mtimeMs);
  };
  ['src', 'Cargo.toml', 'Cargo.lock', 'build.rs'].forEach((f) => visit(path.join(root, f)));
  return newest;
}

function ensureBuilt({ quiet = false } = {}) {
  const addon = path.join(root, `civic-sip-native.${platformSuffix()}.node`);
  if (fs.existsSync(addon) && fs.statSync(addon).mtimeMs >= newestSource()) return addon;
  if (!quiet) console.error('Building the native addon (cargo build --release; a few minutes the first time)...');
  execFileSync('cargo', ['build', '--release', '--lib'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  fs.copyFileSync(path.join(root, 'target', 'release', libraryName()), addon);
  return addon;
}

module.exports = { ensureBuilt };

if (require.main === module) ensureBuilt();
