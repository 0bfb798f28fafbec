'use strict';

// `npm test`: what a contributor runs on every change, in minutes on a built checkout, installing
// nothing outside the project (a fresh clone gets its dev dependencies with `npm ci`): formatting,
// lints (both feature sets), the Rust core's tests, then the Node suites against real servers on
// 127.0.0.1 (differential, browser and end-to-end ones included).
//
// `npm run test:all` (`node scripts/test.js --all`, what .ci/run runs): all of that, plus a short
// run of the fuzz targets, the four Linux builds as published, and the suites that check them or
// take long: artifacts, qemu, pack, soak and runtimes (Bun, Deno); then the suites that touch
// Node on every Node line from 18 to 26 (scripts/node-lines.js). The tools those need
// (cargo-fuzz, zig and cargo-zigbuild, the Rust targets, qemu-user, musl, Chromium, actionlint,
// the Node builds, Bun and Deno) are installed by scripts/install-test-tools.sh, which .ci/run
// calls; this script installs none of them.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const all = process.argv.includes('--all');

// The suites only test:all runs: they check the cross builds or take minutes each.
const FULL_ONLY = new Set(['artifacts.test.js', 'qemu.test.js', 'macos.test.js', 'wine.test.js', 'pack.test.js', 'soak.test.js', 'runtimes.test.js']);

const started = Date.now();
const run = (cmd, args, options = {}) => {
  const t0 = Date.now();
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s; ${((Date.now() - started) / 1000).toFixed(1)} s in all)`);
};

try {
  // A fresh clone: the dev dependencies from the lock file, into the project's node_modules.
  if (!fs.existsSync(path.join(root, 'node_modules', 'civic-sip-api'))) run('npm', ['ci', '--no-audit', '--no-fund']);
  run('cargo', ['fmt', '--check']);
  // The fuzz crate is a workspace of its own: `cargo fmt` at the root does not reach it.
  run('cargo', ['fmt', '--check', '--manifest-path', path.join('fuzz', 'Cargo.toml')]);
  run('cargo', ['clippy', '--all-targets', '--', '-D', 'warnings']);
  run('cargo', ['clippy', '--all-targets', '--no-default-features', '--features', 'bench', '--', '-D', 'warnings']);
  run('cargo', ['test']);
  if (all) run(process.execPath, [path.join('scripts', 'fuzz-smoke.js')]);
  require('./build').ensureBuilt();
  // Every binary built here (scripts/build-platforms.js), for artifacts, qemu, macos and wine.test.js.
  if (all) run(process.execPath, [path.join('scripts', 'build-platforms.js')]);
  const suites = fs.readdirSync(path.join(root, '__test__'))
    .filter((f) => f.endsWith('.test.js') || f.endsWith('.test.mjs'))
    .filter((f) => all || !FULL_ONLY.has(f));
  run(process.execPath, ['--test', '--test-concurrency=1', ...suites.map((f) => path.join('__test__', f))]);
  // The suites that touch Node, on every Node line (scripts/node-lines.js; Bun and Deno are in
  // runtimes.test.js above).
  if (all) require('./node-lines').runMatrix(run);
} catch (error) {
  process.exitCode = error.status || 1;
}
