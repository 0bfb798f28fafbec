// The package from ES modules: `import civicSip, { newClient, sip, codes } from 'civic-sip-native'`
// resolves through the package's own `exports` (a self-reference, as from a user's node_modules),
// the default export is civic-sip-api's module object, and a whole exchange works.
//
// Run: node --test __test__/esm.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import civicSip, { newClient, sip, codes } from 'civic-sip-native';
import { startEmulator, DEFAULT_USER_DATA, FAULTS, stableStringify } from 'civic-sip-native/emulator';

const require = createRequire(import.meta.url);
const OPTS = { timeout: 15000 };


async function withEmulator(t, options) {
  const emu = await startEmulator(options);
  t.after(() => emu.close());
  return emu;
}

test('default and named imports of civic-sip-native', OPTS, () => {
  assert.equal(typeof newClient, 'function');
  assert.equal(typeof sip, 'function');
  // The very object CommonJS gets (its values: codes.test.js).
  assert.equal(codes, require('civic-sip-native').codes);
  assert.equal(codes.RESPONSE_TOO_LARGE, 'ERR_CIVIC_RESPONSE_TOO_LARGE');
  assert.ok(Object.isFrozen(codes));
  // The default export is module.exports itself, as `require('civic-sip-native')` gives it.
  assert.equal(civicSip, require('civic-sip-native'));
  assert.equal(civicSip, require('..'));
  assert.equal(civicSip.newClient, newClient);
  assert.equal(civicSip.sip, sip);
  assert.equal(civicSip.codes, codes);
  assert.deepEqual(Object.keys(civicSip).sort(), ['byLabel', 'check', 'codes', 'newClient', 'sip']);
});

test("import('civic-sip-native') and import('../index.js') give the same module", OPTS, async () => {
  const bySelfReference = await import('civic-sip-native');
  const byPath = await import('../index.js');
  for (const ns of [bySelfReference, byPath]) {
    assert.equal(ns.default, civicSip);
    assert.equal(ns.newClient, newClient);
    assert.equal(ns.sip, sip);
    assert.equal(ns.codes, codes);
  }
  // import.meta.resolve is unflagged from Node 20.6; require.resolve checks the same files on 18.
  const resolve = typeof import.meta.resolve === 'function'
    ? (s) => import.meta.resolve(s)
    : (s) => new URL(`file://${require.resolve(s)}`).href;
  assert.equal(resolve('civic-sip-native'), new URL('../index.js', import.meta.url).href);
  assert.equal(resolve('civic-sip-native/emulator'), new URL('../emulator/index.js', import.meta.url).href);
});

test('only the exported subpaths resolve', OPTS, async () => {
  await assert.rejects(import('civic-sip-native/index.js'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  await assert.rejects(import('civic-sip-native/binding.js'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  const pkg = require('civic-sip-native/package.json');
  assert.equal(pkg.name, 'civic-sip-native');
});

test("import { Strategy } from 'civic-sip-native/passport'; import { byLabel } from 'civic-sip-native'", OPTS, async () => {
  const ns = await import('civic-sip-native/passport');
  assert.equal(ns.Strategy, require('../passport').Strategy);
  assert.equal(ns.default, require('../passport'));
  assert.equal(new ns.Strategy({ appId: 'a', appSecret: '0'.repeat(32), prvKey: '1'.repeat(64) }, () => {}).name, 'civic');
  const { byLabel } = await import('civic-sip-native');
  assert.equal(byLabel, require('..').byLabel);
});

test("import { startEmulator } from 'civic-sip-native/emulator'", OPTS, async () => {
  const ns = await import('civic-sip-native/emulator');
  assert.equal(ns.startEmulator, startEmulator);
  assert.equal(ns.default, require('../emulator'));
  assert.equal(typeof startEmulator, 'function');
  assert.ok(FAULTS.includes('processed'));
  assert.equal(stableStringify({ b: 1, a: 2 }), '{"a":2,"b":1}');
  assert.equal(DEFAULT_USER_DATA.length, 2);
});

test('a full exchange through the ESM import', OPTS, async (t) => {
  const emu = await withEmulator(t);
  const userId = 'cd'.repeat(32);
  const expected = {
    data: [
      { label: 'contact.personal.email', value: 'user@example.com', isValid: true, isOwner: true },
      { label: 'contact.personal.phoneNumber', value: '+1 555 0100', isValid: true, isOwner: true },
    ],
    userId,
  };
  const code = emu.mintAuthCode(undefined, { userId });

  assert.deepStrictEqual(await newClient(emu.clientConfig()).exchangeCode(code), expected);
  assert.deepStrictEqual(await new sip(emu.clientConfig()).exchangeCode(code), expected);
  assert.deepStrictEqual(await civicSip.newClient(emu.clientConfig()).exchangeCode(code), expected);

  // The callback form.
  const viaCallback = await new Promise((resolve, reject) => {
    const returned = newClient(emu.clientConfig()).exchangeCode(code, (error, userData) => {
      if (error) reject(error);
      else resolve(userData);
    });
    assert.equal(returned, undefined);
  });
  assert.deepStrictEqual(viaCallback, expected);

  // The processed flow, and an error with its code.
  emu.fault('processed', { times: 1 });
  assert.deepStrictEqual(await newClient(emu.clientConfig()).exchangeCode(code), expected);
  emu.fault('unauthorized', { times: 1 });
  await assert.rejects(newClient(emu.clientConfig()).exchangeCode(code), (err) => {
    assert.ok(err instanceof Error);
    assert.equal(err.message, 'Error exchanging code for data: 401 - "{\\"message\\":\\"Unauthorized\\"}"');
    assert.equal(err.code, codes.HTTP_STATUS);
    assert.deepEqual(err.response, { statusCode: 401, body: '{"message":"Unauthorized"}' });
    assert.equal(err.statusCode, undefined);
    return true;
  });
  assert.deepEqual(emu.requests.map((r) => `${r.method} ${r.url.replace(/[0-9a-f]{32}(\?X-Amz-.*)?$/, '<id>')}`), [
    'POST /prod/scopeRequest/authCode',
    'POST /prod/scopeRequest/authCode',
    'POST /prod/scopeRequest/authCode',
    'POST /prod/scopeRequest/authCode',
    'POST /prod/scopeRequest/authCode',
    'GET /payloads/<id>',
    'POST /prod/scopeRequest/authCode',
  ]);
});

test('construction errors through the ESM import', OPTS, () => {
  assert.throws(() => new sip({}), (err) => {
    assert.ok(err instanceof Error);
    assert.equal(err.message, 'Please supply your application ID.');
    assert.equal(err.code, codes.CONFIG);
    return true;
  });
  assert.throws(() => newClient({ appId: 'a' }), { message: 'Please supply your application secret.', code: 'ERR_CIVIC_CONFIG' });
  assert.throws(() => civicSip.newClient({ appId: 'a', appSecret: 'b' }), {
    message: 'Please supply your application private key.', code: 'ERR_CIVIC_CONFIG',
  });
  // civic-sip-api accepted unusable keys at construction; so does this package.
  assert.ok(newClient({ appId: 'a', appSecret: 'b', prvKey: 'c' }) instanceof sip);
});
