'use strict';

// The Express example with civic-sip-native installed the way its users install it: packed as it
// would be published (scripts/pack.js) and `npm install`ed, so `require('civic-sip-native')` in
// the example resolves to an installed copy in its own node_modules, never to this checkout.
//
//   node scripts/example.js install   pack, then install into examples/express (express and
//                                     express-session come from the npm registry)
//   node scripts/example.js           install if needed, then start the example (port 3000,
//                                     with a Civic emulator on 8080)

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { packAll } = require('./pack');

const root = path.resolve(__dirname, '..');
const exampleDir = path.join(root, 'examples', 'express');

/**
 * Installs the example's dependencies into `dir` (a copy of examples/express, or the folder
 * itself), civic-sip-native from freshly packed tarballs. package.json keeps `^0.1.0`, the range
 * a user writes: the tarballs are installed with --no-save and satisfy it.
 */
function installExample(dir = exampleDir, { quiet = false } = {}) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-example-'));
  try {
    const { root: rootTarball, platform } = packAll(work);
    execFileSync('npm', ['install', '--no-save', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', rootTarball, platform], {
      cwd: dir,
      stdio: quiet ? ['ignore', 'ignore', 'pipe'] : 'inherit',
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** A copy of the example's own files (no node_modules) in `dir`. */
function copyExample(dir) {
  fs.cpSync(exampleDir, dir, { recursive: true, filter: (src) => path.basename(src) !== 'node_modules' });
  return dir;
}

module.exports = { installExample, copyExample, exampleDir };

if (require.main === module) {
  const installed = fs.existsSync(path.join(exampleDir, 'node_modules', 'civic-sip-native'));
  if (process.argv[2] === 'install' || !installed) {
    console.log('Packing civic-sip-native and installing it into examples/express...');
    installExample();
  }
  if (process.argv[2] !== 'install') {
    const child = spawn(process.execPath, ['server.js'], { cwd: exampleDir, stdio: 'inherit' });
    const forward = (signal) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code) => { process.exitCode = code ?? 1; });
  }
}
