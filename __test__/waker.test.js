'use strict';

// How finished exchanges wake their JS thread (src/binding): on Linux under Node itself, a libuv
// async handle of the addon's own; under anything else (Bun and Deno resolve `uv_*` names, Bun's
// as stubs that abort the process), or with CIVIC_SIP_NATIVE_WAKER=tsfn, Node's threadsafe
// function. Each is an async resource, seen by async_hooks under its own name, and each settles
// every exchange.
//
// Run: node --test __test__/waker.test.js

require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { emulator, runNode } = require('./helpers/support');

const ROOT = path.resolve(__dirname, '..');
const LIBUV = 'civic-sip-native exchange (libuv wake-up)';
const TSFN = 'civic-sip-native exchange';

/** The async resource types the addon made while a child ran 20 exchanges, and their outcome. */
async function wakerIn(emu, { env = {}, before = '' } = {}) {
  const codes = Array.from({ length: 20 }, (_, i) => emu.mintAuthCode(undefined, { userId: `w${i}` }));
  const script = `
    const types = new Set();
    require('node:async_hooks').createHook({ init(id, type) { if (type.startsWith('civic-sip-native')) types.add(type); } }).enable();
    ${before}
    const client = require(${JSON.stringify(ROOT)}).newClient(${JSON.stringify(emu.clientConfig())});
    Promise.all(${JSON.stringify(codes)}.map((c) => client.exchangeCode(c))).then((users) => {
      process.stdout.write(JSON.stringify({ types: [...types], ids: users.map((u) => u.userId) }));
    });`;
  const { code, stdout, stderr } = await runNode(script, { env });
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  const { types, ids } = JSON.parse(stdout);
  assert.deepEqual(ids, codes.map((_, i) => `w${i}`));
  return types;
}

test('under Node on Linux: the libuv wake-up; elsewhere the threadsafe function', { timeout: 60000 }, async (t) => {
  const emu = await emulator(t);
  assert.deepEqual(await wakerIn(emu), [process.platform === 'linux' ? LIBUV : TSFN]);
});

test('CIVIC_SIP_NATIVE_WAKER=tsfn turns the libuv wake-up off', { timeout: 60000 }, async (t) => {
  const emu = await emulator(t);
  assert.deepEqual(await wakerIn(emu, { env: { CIVIC_SIP_NATIVE_WAKER: 'tsfn' } }), [TSFN]);
});

test('a host that is not Node itself (Bun, Deno) gets the threadsafe function', { timeout: 60000 }, async (t) => {
  const emu = await emulator(t);
  assert.deepEqual(await wakerIn(emu, { before: 'process.versions.bun = "1.2.0";' }), [TSFN]);
  assert.deepEqual(await wakerIn(emu, { before: 'process.versions.deno = "2.1.0";' }), [TSFN]);
  assert.deepEqual(await wakerIn(emu, { before: 'Object.defineProperty(process, "release", { value: { name: "io.js" } });' }), [TSFN]);
});
