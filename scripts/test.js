'use strict';

// `npm test`: formatting, lints, the Rust core's tests, a short run of the fuzz targets, then the
// Node suites against real servers on 127.0.0.1. Installs the dev dependencies first on a fresh clone.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const run = (cmd, args) => {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
};

try {
  if (!fs.existsSync(path.join(root, 'node_modules', 'civic-sip-api'))) run('npm', ['install', '--no-audit', '--no-fund']);
  run('cargo', ['fmt', '--check']);
  run('cargo', ['clippy', '--all-targets', '--', '-D', 'warnings']);
  run('cargo', ['clippy', '--all-targets', '--no-default-features', '--features', 'bench', '--', '-D', 'warnings']);
  run('cargo', ['test']);
  run(process.execPath, [path.join('scripts', 'fuzz-smoke.js')]);
  require('./build').ensureBuilt();
  // The four Linux addons as published, for artifacts.test.js and qemu.test.js.
  run(process.execPath, [path.join('scripts', 'build-platforms.js')]);
  const suites = fs.readdirSync(path.join(root, '__test__')).filter((f) => f.endsWith('.test.js') || f.endsWith('.test.mjs'));
  run(process.execPath, ['--test', '--test-concurrency=1', ...suites.map((f) => path.join('__test__', f))]);
} catch (error) {
  process.exitCode = error.status || 1;
}
