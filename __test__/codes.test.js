'use strict';

// One source for the error codes: Rust's list (src/core/error.rs), exported by the binding,
// re-exported frozen by index.js as `codes`, and declared once in index.d.ts (ErrorCode is
// derived from it). Argument errors are TypeErrors whether index.js or Rust raises them.
//
// Run: node --test __test__/codes.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const civicSip = require('..');
const binding = require('../binding.js');
const { startEmulator } = require('../emulator');
const { PREFIX } = require('./helpers/assertions');

const ROOT = path.join(__dirname, '..');
const OPTS = { timeout: 20000 };

/** `NAME = "VALUE",` pairs of the `codes!` list in error.rs, in order. */
function rustCodes() {
  const source = fs.readFileSync(path.join(ROOT, 'src/core/error.rs'), 'utf8');
  const list = source.slice(source.indexOf('codes! {'), source.indexOf('\n}\n', source.indexOf('codes! {')));
  return [...list.matchAll(/^ {4}([A-Z_]+) = "([A-Z_]+)",$/gm)].map(([, name, value]) => [name, value]);
}

/** `readonly NAME: 'VALUE'` pairs of `codes` in index.d.ts, in order. */
function declaredCodes() {
  const types = fs.readFileSync(path.join(ROOT, 'index.d.ts'), 'utf8');
  const start = types.indexOf('export declare const codes: {');
  const block = types.slice(start, types.indexOf('\n}\n', start));
  return [...block.matchAll(/^ {2}readonly ([A-Z_]+): '([A-Z_]+)'$/gm)].map(([, name, value]) => [name, value]);
}

// The documented codes (README, Errors): apps match on these strings, so changing one is a
// breaking change. The one place they are written out, to catch a rename at its source.
const DOCUMENTED = {
  CONFIG: 'ERR_CIVIC_CONFIG',
  HTTP_STATUS: 'ERR_CIVIC_HTTP_STATUS',
  NETWORK: 'ERR_CIVIC_NETWORK',
  TIMEOUT: 'ERR_CIVIC_TIMEOUT',
  INVALID_RESPONSE: 'ERR_CIVIC_INVALID_RESPONSE',
  VERIFICATION: 'ERR_CIVIC_VERIFICATION',
  DECRYPTION: 'ERR_CIVIC_DECRYPTION',
  INVALID_ARGUMENT: 'ERR_INVALID_ARG_TYPE',
  INTERNAL: 'ERR_CIVIC_INTERNAL',
  RESPONSE_TOO_LARGE: 'ERR_CIVIC_RESPONSE_TOO_LARGE',
  ABORTED: 'ABORT_ERR',
};

test('the codes are the documented ones, and each has a row in the README\'s Errors table', () => {
  assert.deepEqual({ ...civicSip.codes }, DOCUMENTED);
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Errors'), readme.indexOf('### Debugging a failed sign-in'));
  for (const code of Object.values(DOCUMENTED)) assert.ok(table.includes(`| \`${code}\` |`), code);
});

test('codes is the binding\'s list from Rust, frozen, and index.d.ts declares the same names and values in order', () => {
  const fromRust = rustCodes();
  assert.equal(fromRust.length, 11);
  assert.deepEqual(Object.entries(binding.ERROR_CODES), fromRust);
  assert.deepEqual(Object.entries(civicSip.codes), fromRust);
  assert.ok(Object.isFrozen(civicSip.codes));
  assert.throws(() => { 'use strict'; civicSip.codes.CONFIG = 'x'; }, TypeError);
  assert.deepEqual(declaredCodes(), fromRust);
  // The union is derived from `codes`, not listed a second time.
  const types = fs.readFileSync(path.join(ROOT, 'index.d.ts'), 'utf8');
  assert.match(types, /^export type ErrorCode = typeof codes\[keyof typeof codes\]$/m);
  assert.equal(types.match(/'ERR_CIVIC_CONFIG'/g).length, 1);
});

test('argument errors are TypeErrors with ERR_INVALID_ARG_TYPE, from Rust and from index.js alike', OPTS, async (t) => {
  const emu = await startEmulator();
  t.after(() => emu.close());
  const client = civicSip.newClient(emu.clientConfig());
  const rejections = [
    // Rust's: the auth code's type is checked by the binding.
    [42, undefined, `${PREFIX}the auth code must be a string, not a number`],
    [null, undefined, `${PREFIX}the auth code must be a string, not null`],
    [{}, undefined, `${PREFIX}the auth code must be a string, not an object`],
    [undefined, undefined, `${PREFIX}the auth code must be a string, not undefined`],
    // index.js's.
    ['\ud800', undefined, `${PREFIX}the auth code must be a well-formed Unicode string: it holds a lone surrogate`],
    [emu.mintAuthCode(), { signal: {} }, `${PREFIX}the signal option must be an AbortSignal`],
  ];
  for (const [authCode, options, message] of rejections) {
    const error = await client.exchangeCode(authCode, options).then(() => assert.fail(message), (e) => e);
    assert.ok(error instanceof TypeError, `${message}: a ${error.constructor.name}`);
    assert.equal(error.name, 'TypeError');
    assert.equal(error.code, civicSip.codes.INVALID_ARGUMENT);
    assert.equal(error.message, message);
    assert.ok(error.stack.startsWith(`TypeError: ${message}\n`), error.stack);
  }
  // The callback form gets the same TypeError.
  const viaCallback = await new Promise((resolve) => { client.exchangeCode(7, (error) => resolve(error)); });
  assert.ok(viaCallback instanceof TypeError);
  assert.equal(viaCallback.code, 'ERR_INVALID_ARG_TYPE');
  // Thrown by the constructor (index.js).
  assert.throws(() => civicSip.newClient(emu.clientConfig({ proxy: 'http://127.0.0.1:9' })),
    (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE');
  // Other failures stay plain Errors.
  emu.fault('unauthorized', { times: 1 });
  const status = await client.exchangeCode(emu.mintAuthCode()).then(() => assert.fail('resolved'), (e) => e);
  assert.equal(status.code, 'ERR_CIVIC_HTTP_STATUS');
  assert.equal(Object.getPrototypeOf(status), Error.prototype);
});
