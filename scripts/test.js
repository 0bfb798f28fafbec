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
//
// `npm test` also leaves out the cases whose pass depends on the machine giving them the CPU on
// time, which a 2-core machine shared with other work does not (a bound with a quarter of a second
// of slack or less, or a flood); test:all runs them. They are marked where they are written
// (`timingDependent` in __test__/helpers/support.js, skipped when CIVIC_SIP_SKIP_TIMING_DEPENDENT
// is 1, as npm test sets it) and, for Rust, named below:
// - flood.test.js, all of it: timeouts and aborts settle within 100 ms (median of four, none
//   past 250 ms) against four floods of 103 responses, and a healthy exchange beside them within
//   50 ms of its usual time;
// - retries-abort.test.js, "aborting a pending exchange rejects at once": settled within 200 ms;
// - exchange.test.js, "clients without a proxy option share one connection pool": the connection
//   is back in the pool 50 ms after the answer;
// - network.test.js, "timeout: 300 and a server that answers after 100 ms": 200 ms for the rest
//   of the exchange;
// - Rust, tests/http.rs `a_flood_of_interim_responses_does_not_hold_the_thread`: a 20 ms timer on the
//   flooded thread fires less than 100 ms late.
// Deadlines with more slack stay in npm test (a timeout against a server that never answers, a
// stall settled within 600 ms of its timeout, a give-up due at once asserted within a second).

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const all = process.argv.includes('--all');

// The suites only test:all runs: they check the cross builds or take minutes each.
const FULL_ONLY = new Set(['artifacts.test.js', 'qemu.test.js', 'macos.test.js', 'wine.test.js', 'pack.test.js', 'soak.test.js', 'runtimes.test.js']);

// The timing-dependent cases (above): the Node ones skip themselves when this is 1, in every
// suite this script starts; the Rust ones are skipped by name.
if (all) delete process.env.CIVIC_SIP_SKIP_TIMING_DEPENDENT;
else process.env.CIVIC_SIP_SKIP_TIMING_DEPENDENT = '1';
const TIMING_DEPENDENT_RUST = ['a_flood_of_interim_responses_does_not_hold_the_thread'];

const started = Date.now();
const run = (cmd, args, options = {}) => {
  const t0 = Date.now();
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s; ${((Date.now() - started) / 1000).toFixed(1)} s in all)`);
};

try {
  // A fresh clone, or a checkout from before a dev dependency was added: the lock file installed.
  const devDependencies = Object.keys(require('../package.json').devDependencies);
  if (devDependencies.some((name) => !fs.existsSync(path.join(root, 'node_modules', name, 'package.json')))) {
    run('npm', ['ci', '--no-audit', '--no-fund']);
  }
  run('cargo', ['fmt', '--check']);
  // The fuzz crate is a workspace of its own: `cargo fmt` at the root does not reach it.
  run('cargo', ['fmt', '--check', '--manifest-path', path.join('fuzz', 'Cargo.toml')]);
  run('cargo', ['clippy', '--all-targets', '--', '-D', 'warnings']);
  run('cargo', ['clippy', '--all-targets', '--no-default-features', '--features', 'bench', '--', '-D', 'warnings']);
  const skipTiming = all ? [] : ['--', ...TIMING_DEPENDENT_RUST.flatMap((name) => ['--skip', name])];
  run('cargo', ['test', ...skipTiming]);
  // tests/ opens sockets through the core's public API; it links the core without `node`, whose
  // napi registration an executable cannot resolve.
  run('cargo', ['test', '--no-default-features', '--test', '*', ...skipTiming]);
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
