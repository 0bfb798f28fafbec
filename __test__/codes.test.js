'use strict';

// One list of error codes: Rust's (src/core/error.rs), exported by the binding and re-exported
// frozen by index.js as `codes`. What documents them is checked against that export, both ways
// (none missing, none extra): index.d.ts's `codes` (read with the TypeScript parser; ErrorCode is
// derived from it) and the README's Errors table. Argument errors are TypeErrors whether index.js
// or Rust raises them.
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
const { declaredObject, declaredAlias, stringLiteralTypes } = require('./helpers/declarations');

const ROOT = path.join(__dirname, '..');
const OPTS = { timeout: 20000 };
const README_HEADER = '| `code` | message (after the prefix) | when |';

/** The codes of the README's Errors table, each once, in the order of their rows (a row names one code). */
function readmeCodes() {
  const lines = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n');
  const header = lines.indexOf(README_HEADER);
  assert.ok(header > 0, `the README has the Errors table (${README_HEADER})`);
  const rows = [];
  for (let i = header + 2; i < lines.length && lines[i].startsWith('|'); i += 1) rows.push(lines[i]);
  return rows.map((row) => {
    const m = /^\| `([A-Z_]+)` \|/.exec(row);
    assert.ok(m, `a row of the Errors table that names no code: ${row}`);
    return m[1];
  }).filter((code, i, all) => all.indexOf(code) === i);
}

test('codes is the binding\'s list from Rust, frozen', () => {
  assert.deepEqual(Object.entries(civicSip.codes), Object.entries(binding.ERROR_CODES));
  assert.ok(Object.entries(civicSip.codes).length > 0);
  assert.ok(Object.isFrozen(civicSip.codes));
  assert.throws(() => { 'use strict'; civicSip.codes.CONFIG = 'x'; }, TypeError);
  // One kind of failure, one code: no two names share a value.
  assert.equal(new Set(Object.values(civicSip.codes)).size, Object.keys(civicSip.codes).length);
});

test('index.d.ts declares codes with the same names and values in order, and ErrorCode from it', () => {
  assert.deepEqual(declaredObject('codes'), Object.entries(civicSip.codes));
  // The union is derived from `codes`, and no other type lists a code a second time.
  assert.equal(declaredAlias('ErrorCode'), 'typeof codes[keyof typeof codes]');
  const values = Object.values(civicSip.codes);
  assert.deepEqual(stringLiteralTypes().filter((literal) => values.includes(literal)), values);
});

test('the README\'s Errors table has rows for every code, in the order of codes, and for no other', () => {
  assert.deepEqual(readmeCodes(), Object.values(civicSip.codes));
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
