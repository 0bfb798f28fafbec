'use strict';

// Bun and Deno, as users run the package there: a script requires it by its path and runs an
// exchange against the emulator (running here on this Node), an abort, a timeout and the callback
// form. The pinned builds are unpacked into target/runtimes/ by scripts/install-test-tools.sh
// (scripts/node-lines.js); without them this is skipped, except in CI (CI set), where a missing
// one is a failure. Deno loads the addon with --allow-ffi, reads it with --allow-read, and the
// package reads its environment (proxy variables, NODE_EXTRA_CA_CERTS) with --allow-env.
//
// Run: node --test __test__/runtimes.test.js

require('./helpers/support').clearProxyEnv(['NODE_EXTRA_CA_CERTS']);

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { promisify } = require('node:util');

const { startEmulator, DEFAULT_USER_DATA } = require('../emulator');
const { bunBinary, denoBinary } = require('../scripts/node-lines');
const { records } = require('./helpers/support');

const root = path.resolve(__dirname, '..');
const script = path.join(__dirname, 'fixtures', 'runtimes', 'check.cjs');
const PREFIX = 'Error exchanging code for data: ';

const RUNTIMES = [
  ['Bun', bunBinary(), []],
  ['Deno', denoBinary(), ['run', '--allow-ffi', '--allow-read', '--allow-env', '--allow-net=127.0.0.1']],
];

for (const [name, binary, args] of RUNTIMES) {
  const missing = fs.existsSync(binary) ? null : `no ${name} at ${path.relative(root, binary)}`;
  const skip = missing && !process.env.CI ? `${missing} (scripts/install-test-tools.sh)` : false;
  test(`${name}: an exchange, an abort, a timeout and the callback form`, { skip, timeout: 60000 }, async (t) => {
    assert.equal(missing, null, missing);
    const ok = await startEmulator();
    const hang = await startEmulator();
    t.after(() => Promise.all([ok.close(), hang.close()]));
    hang.fault('hang');
    const input = JSON.stringify({
      ok: { config: ok.clientConfig(), code: ok.mintAuthCode(undefined, { userId: `${name}-user` }) },
      hang: { config: hang.clientConfig(), code: hang.mintAuthCode() },
    });
    const { stdout } = await promisify(execFile)(binary, [...args, script, input], {
      env: { ...process.env, PACKAGE_DIR: root, NO_COLOR: '1' }, timeout: 45000,
    });
    const out = JSON.parse(stdout.trim().split('\n').pop());
    t.diagnostic(`${name} follows Node ${out.node}`);
    assert.deepEqual(out.exchange, { data: records(DEFAULT_USER_DATA), userId: `${name}-user` });
    assert.deepEqual(out.abort, { name: 'AbortError', code: 'ABORT_ERR', message: `${PREFIX}AbortError: The operation was aborted` });
    const timeout = { name: 'Error', code: 'ERR_CIVIC_TIMEOUT', message: `${PREFIX}Error: ETIMEDOUT: no answer within 200 ms` };
    assert.deepEqual(out.timeout, timeout);
    assert.deepEqual(out.callback, timeout);
  });
}
