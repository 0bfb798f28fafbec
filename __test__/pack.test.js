'use strict';

// The package as a user installs it: the root and this platform's tarballs, installed offline
// into fresh apps, once as `civic-sip-native` and once aliased as `civic-sip-api`; then an app
// written for civic-sip-api, an ES module app and tsc --strict over a TypeScript app.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile, execFileSync, spawn } = require('node:child_process');
const readline = require('node:readline');
const { promisify } = require('node:util');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { packAll } = require('../scripts/pack');
const { platformSuffix } = require('../scripts/build');
const { startEmulator, DEFAULT_USER_DATA } = require('../emulator');
const { appEnv } = require('./helpers/apps');

const root = path.resolve(__dirname, '..');
const apps = path.join(__dirname, 'fixtures', 'apps');
const skip = fs.existsSync(path.join(root, 'npm', platformSuffix())) ? false : `no npm/${platformSuffix()} package`;

let work;
let tarballs;
let emu;

function install(name, dependencyName) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name, version: '1.0.0', private: true,
    dependencies: {
      [dependencyName]: `file:${tarballs.root}`,
      [`civic-sip-native-${platformSuffix()}`]: `file:${tarballs.platform}`,
    },
  }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'ignore' });
  return dir;
}

// Asynchronous: the emulator answers from this process, so its event loop must stay free.
async function run(dir, file) {
  if (fs.existsSync(path.join(apps, file))) fs.copyFileSync(path.join(apps, file), path.join(dir, file));
  const env = appEnv(emu, 'packed');
  const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd: dir, env, timeout: 20_000 });
  return JSON.parse(stdout);
}

function installed(dir) {
  const modules = path.join(dir, 'node_modules');
  const packages = fs.readdirSync(modules).filter((n) => !n.startsWith('.'));
  const size = (p) => (fs.statSync(p).isDirectory() ? fs.readdirSync(p).reduce((n, f) => n + size(path.join(p, f)), 0) : fs.statSync(p).size);
  return { packages, bytes: size(modules) };
}

before(async () => {
  if (skip) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-apps-'));
  tarballs = packAll(work);
  emu = await startEmulator();
});

after(async () => {
  await emu?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const records = JSON.parse(JSON.stringify(DEFAULT_USER_DATA));

test('aliased as civic-sip-api: an app written for civic-sip-api runs unchanged', { skip }, async (t) => {
  const dir = install('alias-app', 'civic-sip-api');
  const { packages, bytes } = installed(dir);
  assert.deepEqual(packages.sort(), ['civic-sip-api', `civic-sip-native-${platformSuffix()}`]);
  t.diagnostic(`installed: ${packages.length} packages, ${(bytes / 1e6).toFixed(1)} MB`);
  assert.ok(bytes < 20e6, `${bytes} bytes installed`);
  // The root package holds only what it needs: the loader, the API, the types, the emulator with
  // its CLI and browser half; no sources, tests, fixtures or build output.
  const files = (d, prefix = '') => fs.readdirSync(d, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(d, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
  assert.deepEqual(files(path.join(dir, 'node_modules', 'civic-sip-api')).sort(), [
    'LICENSE', 'README.md', 'binding.d.ts', 'binding.js', 'check.js', 'cli.js',
    'emulator/browser.js', 'emulator/browser/civic-modal.css', 'emulator/browser/civic.sip.js',
    'emulator/browser/consent.css', 'emulator/browser/consent.html', 'emulator/browser/consent.js',
    'emulator/checks.js', 'emulator/civic-crypto.js', 'emulator/cli.js', 'emulator/credentials.js',
    'emulator/faults.js', 'emulator/index.d.ts', 'emulator/index.js', 'emulator/routes.js', 'emulator/server.js',
    'index.d.ts', 'index.js', 'package.json', 'passport.d.ts', 'passport.js', 'trust.d.ts', 'trust.js',
  ]);
  assert.deepEqual(files(path.join(dir, 'node_modules', `civic-sip-native-${platformSuffix()}`)).sort(), [
    `civic-sip-native.${platformSuffix()}.node`, 'package.json',
  ]);
  assert.deepEqual(await run(dir, 'civic-sip-api-app.js'), { data: records, userId: 'packed' });
  // The Passport strategy loads without Passport installed (an optional peer dependency).
  assert.ok(!fs.existsSync(path.join(dir, 'node_modules', 'passport')));
  const strategy = execFileSync(process.execPath, ['-e', `const { Strategy } = require('civic-sip-api/passport');
process.stdout.write(new Strategy({ appId: 'a', appSecret: '${'0'.repeat(32)}', prvKey: '${'1'.repeat(64)}' }, () => {}).name);`], { cwd: dir }).toString();
  assert.equal(strategy, 'civic');
});

test('as civic-sip-native: an ES module app, and a TypeScript app checked by tsc --strict, compiled and run', { skip }, async () => {
  const dir = install('esm-app', 'civic-sip-native');
  assert.deepEqual(await run(dir, 'esm-app.mjs'), { viaFactory: { data: records, userId: 'packed' }, same: true, refused: true });

  // The package's bin as `npx` finds it in an installed app: the emulator starts and serves its
  // browser script at the URL it prints.
  const cli = spawn('npx', ['--offline', 'civic-sip-emulator', '--port', '0', '--json'], {
    cwd: dir, stdio: ['ignore', 'pipe', 'inherit'], detached: true,
  });
  try {
    // The first line it prints, or '' if it exits without one (a missing bin fails here, not hangs).
    const lines = readline.createInterface({ input: cli.stdout });
    const line = await new Promise((resolve) => { lines.once('line', resolve); lines.once('close', () => resolve('')); });
    assert.match(line, /^\{"appId":/);
    const printed = JSON.parse(line);
    assert.deepEqual(Object.keys(printed).sort(), ['api', 'appId', 'appSecret', 'civicPublicKey', 'mintUrl', 'prvKey', 'scriptUrl', 'stylesheetUrl']);
    const script = await fetch(printed.scriptUrl);
    assert.equal(script.status, 200);
    assert.match(await script.text(), /auth-code-received/);
  } finally {
    process.kill(-cli.pid); // npx and the emulator it started: one process group
  }

  for (const file of ['ts-app.ts', 'tsconfig.json']) fs.copyFileSync(path.join(apps, file), path.join(dir, file));
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const out = execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir }).toString();
  assert.equal(out, '');
  assert.deepEqual(await run(dir, path.join('out', 'ts-app.js')), {
    userId: 'packed', email: 'user@example.com', refused: 'ERR_CIVIC_NETWORK', viaCallback: records.length,
  });
  // The check can fail: a misspelt option in the same app is a compile error.
  fs.writeFileSync(path.join(dir, 'ts-app.ts'), `${fs.readFileSync(path.join(apps, 'ts-app.ts'), 'utf8')}
newClient({ appId: 'a', appSecret: 'b', prvKey: 'c', includeStageInUrl: false });
`);
  assert.throws(() => execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, stdio: 'pipe' }), (error) => {
    assert.match(error.stdout.toString(), /error TS2561: .*'includeStageInUrl'.*'includeStageInURL'/);
    return true;
  });
});
