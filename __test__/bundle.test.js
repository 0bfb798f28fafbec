'use strict';

// The README's "Bundlers and frameworks" settings, run: an app (fixtures/apps/bundled/) is
// bundled with esbuild's CLI exactly as the README shows it, the bundle is moved away from the
// app's sources next to a node_modules holding civic-sip-native, and it exchanges a code with the
// emulator. Without the setting esbuild refuses the addon, with the message the README quotes.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { promisify } = require('node:util');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { ensureBuilt } = require('../scripts/build');
const { startEmulator, DEFAULT_USER_DATA } = require('../emulator');
const { appEnv } = require('./helpers/apps');

const root = path.resolve(__dirname, '..');
const app = path.join(__dirname, 'fixtures', 'apps', 'bundled');
const esbuild = path.join(root, 'node_modules', '.bin', 'esbuild');

let work;
let emu;

before(async () => {
  ensureBuilt({ quiet: true });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-bundle-'));
  // The app's project: its sources, and civic-sip-native in node_modules (this checkout, as
  // `npm link` would put it; pack.test.js installs the packed tarballs).
  fs.cpSync(app, path.join(work, 'src'), { recursive: true });
  fs.mkdirSync(path.join(work, 'src', 'node_modules'));
  fs.symlinkSync(root, path.join(work, 'src', 'node_modules', 'civic-sip-native'), 'dir');
  emu = await startEmulator();
});

after(async () => {
  await emu?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function bundle(flags, outfile) {
  return new Promise((resolve) => {
    execFile(esbuild, ['app.js', '--bundle', '--platform=node', ...flags, `--outfile=${outfile}`], { cwd: path.join(work, 'src') },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stderr }));
  });
}

// The bundle alone in a deployment folder, with the package installed beside it.
async function deployAndRun(outfile) {
  const deploy = fs.mkdtempSync(path.join(work, 'deploy-'));
  fs.copyFileSync(outfile, path.join(deploy, 'app.js'));
  fs.mkdirSync(path.join(deploy, 'node_modules'));
  fs.symlinkSync(root, path.join(deploy, 'node_modules', 'civic-sip-native'), 'dir');
  const before = emu.requests.length;
  const env = appEnv(emu, 'bundled');
  const { stdout } = await promisify(execFile)(process.execPath, ['app.js'], { cwd: deploy, env, timeout: 20_000 });
  const exchanges = emu.requests.slice(before).filter((r) => r.method === 'POST' && r.url.endsWith('/scopeRequest/authCode'));
  return { result: JSON.parse(stdout), exchanges: exchanges.length };
}

const records = JSON.parse(JSON.stringify(DEFAULT_USER_DATA));

for (const flags of [['--external:civic-sip-native'], ['--packages=external']]) {
  test(`esbuild ${flags.join(' ')}: the bundle keeps require('civic-sip-native') and exchanges a code`, async () => {
    const outfile = path.join(work, `out-${flags[0].replace(/\W/g, '')}.js`);
    const { code, stderr } = await bundle(flags, outfile);
    assert.equal(code, 0, stderr);
    const text = fs.readFileSync(outfile, 'utf8');
    assert.match(text, /require\("civic-sip-native"\)/);
    // The app's own module is inlined, the package's loader is not.
    assert.match(text, /civicConfig/);
    assert.doesNotMatch(text, /\.node['"]/);
    assert.deepEqual(await deployAndRun(outfile), { result: { data: records, userId: 'bundled' }, exchanges: 1 });
  });
}

test('esbuild --external:civic-sip-native keeps its subpaths external too (civic-sip-native/emulator)', async () => {
  fs.writeFileSync(path.join(work, 'src', 'emulator-app.js'), "const { startEmulator } = require('civic-sip-native/emulator');\nconsole.log(typeof startEmulator);\n");
  const outfile = path.join(work, 'src', 'out-emulator.js'); // beside src/node_modules
  const { code, stderr } = await new Promise((resolve) => {
    execFile(esbuild, ['emulator-app.js', '--bundle', '--platform=node', '--external:civic-sip-native', `--outfile=${outfile}`], { cwd: path.join(work, 'src') },
      (error, stdout, errOut) => resolve({ code: error ? error.code : 0, stderr: errOut }));
  });
  assert.equal(code, 0, stderr);
  assert.match(fs.readFileSync(outfile, 'utf8'), /require\("civic-sip-native\/emulator"\)/);
  const { stdout } = await promisify(execFile)(process.execPath, [outfile], { cwd: path.join(work, 'src') });
  assert.equal(stdout, 'function\n');
});

test('esbuild without the setting refuses the addon: No loader is configured for ".node" files', async () => {
  const { code, stderr } = await bundle([], path.join(work, 'out-inlined.js'));
  assert.notEqual(code, 0);
  assert.match(stderr, /No loader is configured for "\.node" files/);
});
