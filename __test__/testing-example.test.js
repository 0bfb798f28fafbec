'use strict';

// The README's "Testing your app" example: examples/testing/signin.test.js, shown in the README
// verbatim, runs green with `node --test` against the emulator; and it can fail: a copy of the app
// whose route loses the email makes its first test fail.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { ensureBuilt } = require('../scripts/build');

const root = path.resolve(__dirname, '..');
const example = path.join(root, 'examples', 'testing');

function nodeTest(cwd) {
  return new Promise((resolve) => {
    // Only loopback servers: no proxy the environment may name.
    const env = { ...process.env };
    for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy']) delete env[name];
    // Set when this suite runs under `node --test`: it would make the inner run report to ours.
    delete env.NODE_TEST_CONTEXT;
    execFile(process.execPath, ['--test', '--test-reporter=tap', 'signin.test.js'], { cwd, env, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }));
  });
}

test('the README shows examples/testing/signin.test.js as it is', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const source = fs.readFileSync(path.join(example, 'signin.test.js'), 'utf8');
  assert.ok(readme.includes(`\`\`\`js\n${source}\`\`\``), 'the README\'s node:test example differs from examples/testing/signin.test.js');
});

test('the example passes with node --test against the emulator', async () => {
  ensureBuilt({ quiet: true });
  const { code, stdout, stderr } = await nodeTest(example);
  assert.equal(code, 0, stdout + stderr);
  assert.match(stdout, /^ok \d+ - signs the user in with the data Civic shares$/m);
  assert.match(stdout, /^ok \d+ - refuses the sign-in when Civic refuses the exchange$/m);
  assert.match(stdout, /^# pass 2$/m);
  assert.match(stdout, /^# fail 0$/m);
});

test('the example can fail: a route that loses the email fails its first test', async () => {
  ensureBuilt({ quiet: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-testing-'));
  try {
    fs.cpSync(example, dir, { recursive: true });
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'civic-sip-native'), 'dir');
    const app = fs.readFileSync(path.join(dir, 'app.js'), 'utf8');
    const broken = app.replace("record.label === 'contact.personal.email'", "record.label === 'contact.personal.phoneNumber'");
    assert.notEqual(broken, app);
    fs.writeFileSync(path.join(dir, 'app.js'), broken);
    const { code, stdout } = await nodeTest(dir);
    assert.equal(code, 1);
    assert.match(stdout, /^not ok \d+ - signs the user in with the data Civic shares$/m);
    assert.match(stdout, /^ok \d+ - refuses the sign-in when Civic refuses the exchange$/m);
    assert.match(stdout, /^# fail 1$/m);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
