'use strict';

// The linux-arm64-gnu package on an arm64 Node: Debian's own arm64 `nodejs` (Node 18), unpacked
// into target/arm64-node/ by scripts/install-test-tools.sh and run under qemu-user. The root and
// arm64 tarballs are installed offline as npm installs them on an arm64 machine (--cpu arm64: the
// root's optionalDependencies bring the arm64 package only), the package's loader picks the arm64
// addon by itself, and the app exchanges a code with the emulator
// running here on the host's Node; a failure keeps its message and code across the architecture.
//
// Without qemu-aarch64 or the unpacked Node this is skipped, except in CI (CI set), where
// .ci/run installs both and a missing one is a failure.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile, execFileSync } = require('node:child_process');
const { promisify } = require('node:util');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { packAll } = require('../scripts/pack');
const { addonPath } = require('../scripts/build-platforms');
const { startEmulator, DEFAULT_USER_DATA } = require('../emulator');

const root = path.resolve(__dirname, '..');
const sysroot = path.join(root, 'target', 'arm64-node');
const node = path.join(sysroot, 'usr', 'bin', 'node');

function qemu() {
  try {
    execFileSync('qemu-aarch64', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const missing = !qemu() ? 'qemu-aarch64 is not installed'
  : !fs.existsSync(node) ? `no arm64 Node at ${path.relative(root, node)}`
    : !fs.existsSync(addonPath('linux-arm64-gnu')) ? 'no linux-arm64-gnu build' : null;
const skip = missing && !process.env.CI ? `${missing} (scripts/install-test-tools.sh, npm run build:platforms)` : false;

let work;
let app;
let emu;

before(async () => {
  if (skip) return;
  assert.equal(missing, null, missing);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-arm64-'));
  const tarballs = packAll(work, 'linux-arm64-gnu');
  app = path.join(work, 'app');
  fs.mkdirSync(app);
  // Only the root is a dependency: npm picks the arm64 package among its optionalDependencies for
  // the CPU it is told, as on an arm64 machine (the override stands in for the registry).
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({
    name: 'arm64-app', version: '1.0.0', private: true,
    dependencies: { 'civic-sip-api': `file:${tarballs.root}` },
    overrides: { 'civic-sip-native-linux-arm64-gnu': `file:${tarballs.platform}` },
  }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--cpu=arm64', '--os=linux', '--libc=glibc'], { cwd: app, stdio: 'ignore' });
  assert.deepEqual(fs.readdirSync(path.join(app, 'node_modules')).filter((n) => !n.startsWith('.')).sort(), ['civic-sip-api', 'civic-sip-native-linux-arm64-gnu']);
  fs.copyFileSync(path.join(__dirname, 'fixtures', 'apps', 'civic-sip-api-app.js'), path.join(app, 'app.js'));
  emu = await startEmulator();
});

after(async () => {
  await emu?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

// Asynchronous: the emulator answers from this process.
async function arm64(args, env = {}) {
  const { stdout } = await promisify(execFile)('qemu-aarch64', ['-L', sysroot, node, ...args], {
    cwd: app, env: { ...process.env, ...env }, timeout: 120_000,
  });
  return stdout;
}

const appEnv = (overrides = {}) => ({
  APP_ID: emu.app.appId,
  APP_SECRET: emu.app.appSecret,
  PRV_KEY: emu.app.prvKey,
  CIVIC_API: emu.url,
  CIVIC_PUBLIC_KEY: emu.civicPublicKey,
  AUTH_CODE: emu.mintAuthCode(DEFAULT_USER_DATA, { userId: 'arm64' }),
  ...overrides,
});

test('arm64 Node under qemu loads the arm64 addon through the package loader', { skip }, async (t) => {
  const out = JSON.parse(await arm64(['-e', `
    const binding = require('civic-sip-native-linux-arm64-gnu');
    const lib = require('civic-sip-api');
    console.log(JSON.stringify({
      arch: process.arch, node: process.version, napi: process.versions.napi,
      glibc: process.report.getReport().header.glibcVersionRuntime,
      // The loader stamps the object it loaded: the arm64 package's own module.
      exports: Object.keys(binding).sort(), loadedBy: binding.__napiBindingTarget, api: Object.keys(lib).sort(),
    }));`]));
  t.diagnostic(`Node ${out.node} (Node-API ${out.napi}) on ${out.arch}, glibc ${out.glibc}`);
  assert.equal(out.arch, 'arm64');
  assert.match(out.node, /^v18\./);
  // The same classes as the host's own build: the arm64 binary is this source, not a stale one.
  assert.deepEqual(out.exports, Object.keys(require('../binding')).sort());
  assert.ok(out.exports.includes('NativeClient'), out.exports.join());
  assert.equal(out.loadedBy, 'native');
  // The same API as the host's (one list, the loader's own: adding an export changes both).
  assert.deepEqual(out.api, Object.keys(require('..')).sort());
  assert.ok(out.api.includes('newClient'), out.api.join());
});

test('arm64 Node under qemu: an app written for civic-sip-api exchanges a code with the emulator', { skip }, async () => {
  const result = JSON.parse(await arm64(['app.js'], appEnv()));
  assert.deepEqual(result, { data: JSON.parse(JSON.stringify(DEFAULT_USER_DATA)), userId: 'arm64' });
});

test('arm64 Node under qemu: a failure keeps its message and code', { skip }, async () => {
  // Another app's secret: the HMAC over the request no longer matches, the emulator answers 401.
  const result = JSON.parse(await arm64(['app.js'], appEnv({ APP_SECRET: '0'.repeat(32) })));
  assert.equal(result.code, 'ERR_CIVIC_HTTP_STATUS');
  assert.equal(result.error, 'Error exchanging code for data: 401 - "{\\"message\\":\\"Unauthorized\\"}"');
});
