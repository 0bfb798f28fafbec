'use strict';

// The short soak CI runs: scripts/soak.js from 5,000 to 20,000 exchanges against the emulator in
// its own process. RSS (after a full GC) must stay within 10% and no exchange may fail. The long
// run (10,000 to 100,000) is recorded in docs/security.md.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile } = require('node:child_process');

test('soak: RSS flat within 10% between 5,000 and 20,000 exchanges, none failed', { timeout: 180000 }, async (t) => {
  const script = path.join(__dirname, '..', 'scripts', 'soak.js');
  const { code, stdout, stderr } = await new Promise((resolve) => {
    execFile(process.execPath, ['--expose-gc', script, '--from', '5000', '--to', '20000', '--every', '5000', '--json'],
      { timeout: 170000 }, (err, out, errOut) => resolve({ code: err ? err.code : 0, stdout: out, stderr: errOut }));
  });
  const result = JSON.parse(stdout);
  t.diagnostic(result.checkpoints.map((c) => `${c.exchanges}: ${c.rssMB} MB`).join(', '));
  assert.equal(result.gc, true);
  assert.deepEqual(result.checkpoints.map((c) => c.exchanges), [5000, 10000, 15000, 20000]);
  assert.equal(result.failed, 0, result.firstError);
  assert.ok(result.growth <= 0.1, `RSS grew ${(result.growth * 100).toFixed(1)}%`);
  assert.equal(result.flat, true);
  assert.equal(code, 0, stderr);
});
