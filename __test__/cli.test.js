'use strict';

// `civic-sip-emulator` (emulator/cli.js, the package's bin) as a process: what it prints is what
// a user pastes, so the printed client config is evaluated as JavaScript and used for a real
// exchange against the running emulator; then its options and its failures.
//
// Run: node --test __test__/cli.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const { httpRequest, closedPort } = require('./helpers/servers');
const { socketServer } = require('./helpers/support');

const root = path.resolve(__dirname, '..');
const CLI = path.join(root, 'emulator', 'cli.js');
const OPTS = { timeout: 20000 };
const APP_SECRET = '0123456789abcdef0123456789abcdef';
const PRV_KEY = 'a'.repeat(63) + '1';

/** Starts the CLI; resolves once it has printed its banner (or what it printed when it exits). */
function startCli(t, args) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => { stdout += c; });
  child.stderr.on('data', (c) => { stderr += c; });
  return new Promise((resolve) => {
    child.stdout.on('data', () => {
      if (/Ctrl\+C stops it\.\n$/.test(stdout) || (args.includes('--json') && stdout.endsWith('\n'))) resolve({ child, stdout, stderr });
    });
    child.on('exit', (code, signal) => resolve({
      child, code, signal, stdout, stderr,
    }));
  });
}

function runCli(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 10000 }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

async function authCode(api, appId, scope = 'BASIC_SIGNUP', parent = 'http://localhost:3000') {
  const res = await httpRequest(`${api}consent/allow`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ appId, scope, parent }),
  });
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body).authCode;
}

function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

test('the banner: browser tags, a client config that works when pasted, environment variables', OPTS, async (t) => {
  const { child, stdout } = await startCli(t, ['--port', '0', '--app-id', 'CliApp123', '--app-secret', APP_SECRET, '--prv-key', PRV_KEY]);
  const url = /^Civic SIP emulator listening on (http:\/\/127\.0\.0\.1:(\d+)\/)$/m.exec(stdout)?.[1];
  assert.ok(url, stdout);
  assert.ok(stdout.includes(`  <link rel="stylesheet" href="${url}css/civic-modal.css">\n  <script src="${url}js/civic.sip.js"></script>\n  const civicSip = new civic.sip({ appId: 'CliApp123' });\n`));

  // The server block is JavaScript: evaluate the object literal it passes to newClient.
  const literal = /require\('civic-sip-native'\)\.newClient\((\{[\s\S]*?\})\);/.exec(stdout)[1];
  const config = new Function(`return (${literal});`)();
  assert.deepEqual(Object.keys(config), ['appId', 'appSecret', 'prvKey', 'api', 'civicPublicKey']);
  assert.equal(config.appId, 'CliApp123');
  assert.equal(config.appSecret, APP_SECRET);
  assert.equal(config.prvKey, PRV_KEY);
  assert.equal(config.api, url);
  assert.match(config.civicPublicKey, /^04[0-9a-f]{128}$/);
  const { data, userId } = await civicSip.newClient(config).exchangeCode(await authCode(url, 'CliApp123'));
  assert.deepEqual(data, DEFAULT_USER_DATA);
  assert.match(userId, /^[0-9a-f]{64}$/);

  const env = Object.fromEntries([...stdout.matchAll(/^(CIVIC_[A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  assert.deepEqual(env, {
    CIVIC_APP_ID: 'CliApp123',
    CIVIC_APP_SECRET: APP_SECRET,
    CIVIC_PRV_KEY: PRV_KEY,
    CIVIC_API: url,
    CIVIC_PUBLIC_KEY: config.civicPublicKey,
    CIVIC_SIP_JS: `${url}js/civic.sip.js`,
    CIVIC_SIP_CSS: `${url}css/civic-modal.css`,
  });

  child.kill('SIGTERM');
  assert.equal(await exited(child), 0);
});

test('an app ID with quotes or a backslash still prints JavaScript that means it', OPTS, async (t) => {
  const appId = 'O\'Brien\\"s app';
  const { child, stdout } = await startCli(t, ['--port', '0', '--app-id', appId]);
  const browser = /new civic\.sip\(\{ appId: ('.*') \}\);/.exec(stdout)[1];
  assert.equal(new Function(`return ${browser};`)(), appId);
  const literal = /require\('civic-sip-native'\)\.newClient\((\{[\s\S]*?\})\);/.exec(stdout)[1];
  assert.equal(new Function(`return (${literal});`)().appId, appId);
  child.kill('SIGTERM');
  assert.equal(await exited(child), 0);
});

test('--json, --app-name, --user and --origin shape the emulator', OPTS, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const userFile = path.join(dir, 'user.json');
  fs.writeFileSync(userFile, JSON.stringify({ records: { 'contact.personal.email': 'cli@example.com' }, userId: 'cli-user' }));
  const { stdout } = await startCli(t, ['--port', '0', '--json', '--app-name', 'CLI shop', '--user', userFile, '--origin', 'http://localhost:3000', '--origin', 'http://localhost:3001']);
  const lines = stdout.split('\n');
  assert.equal(lines.length, 2);
  const printed = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(printed), ['appId', 'appSecret', 'prvKey', 'api', 'civicPublicKey', 'scriptUrl', 'stylesheetUrl', 'mintUrl']);
  assert.match(printed.appId, /^[0-9A-Za-z]{9}$/);
  assert.match(printed.appSecret, /^[0-9a-f]{32}$/);

  const ask = (parent) => httpRequest(`${printed.api}consent/request?${new URLSearchParams({ appId: printed.appId, scope: 'PROOF_OF_EMAIL', parent })}`);
  const res = await ask('http://localhost:3001');
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body).app, { appId: printed.appId, name: 'CLI shop' });
  assert.deepEqual(JSON.parse(res.body).records, [{ label: 'contact.personal.email', description: 'Email', value: 'cli@example.com' }]);
  assert.equal((await ask('http://localhost:4000')).status, 403);

  const {
    scriptUrl, stylesheetUrl, mintUrl, ...config
  } = printed;
  assert.equal(mintUrl, `${printed.api}emulator/auth-code`);
  assert.equal(scriptUrl, `${printed.api}js/civic.sip.js`);
  assert.equal(stylesheetUrl, `${printed.api}css/civic-modal.css`);
  const result = await civicSip.newClient(config).exchangeCode(await authCode(printed.api, printed.appId, 'PROOF_OF_EMAIL'));
  assert.deepEqual(result, { data: [{ label: 'contact.personal.email', value: 'cli@example.com', isValid: true, isOwner: true }], userId: 'cli-user' });
});

test('--help; and every failure exits 2 with a message that says what to fix', OPTS, async (t) => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: civic-sip-emulator \[options\]\n/);
  assert.match(help.stdout, /--port <n> +port to listen on \(default 8080; 0 picks a free one\)/);

  const { port } = await socketServer(t, () => {});

  const cases = [
    [['--bogus'], /^civic-sip-emulator: Unknown option '--bogus'/],
    [['--port', 'eighty'], /^civic-sip-emulator: --port must be a port number, not 'eighty'\n$/],
    [['--port', String(port)], new RegExp(`^civic-sip-emulator: port ${port} is in use \\(try --port 0 or another port\\)\\n$`)],
    [['--port', '0', '--app-secret', 'xyz'], /^civic-sip-emulator: app.appSecret must be 32, 48 or 64 hex characters\n$/],
    [['--port', '0', '--user', '/no/such/user.json'], /^civic-sip-emulator: cannot read \/no\/such\/user\.json: ENOENT\n$/],
    [['--port', '0', '--user', CLI], new RegExp(`^civic-sip-emulator: ${CLI.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not JSON: `)],
    [['--port', '0', '--user', path.join(root, 'package.json')], /^civic-sip-emulator: user: unknown field 'name' \(expected records, scopes, userId\)\n$/],
  ];
  for (const [args, stderr] of cases) {
    const out = await runCli(args);
    assert.equal(out.code, 2, args.join(' '));
    assert.equal(out.stdout, '');
    assert.match(out.stderr, stderr);
  }
});

test('--version prints the package version', OPTS, async () => {
  for (const flag of ['--version', '-v']) {
    const out = await runCli([flag]);
    assert.equal(out.code, 0);
    assert.equal(out.stdout, `${require('../package.json').version}\n`);
    assert.equal(out.stderr, '');
  }
});

test('--credentials keeps the app and Civic keys across restarts; refuses what it cannot honour', OPTS, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-cli-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'emulator.json');

  const first = await startCli(t, ['--port', '0', '--credentials', file]);
  assert.match(first.stdout, new RegExp(`^Credentials made and saved to ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: later runs`));
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(Object.keys(saved), ['appId', 'appSecret', 'prvKey', 'civicPrivateKey']);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'readable by its owner only');
  const configOf = (stdout) => new Function(`return (${/newClient\((\{[\s\S]*?\})\);/.exec(stdout)[1]});`)();
  const before = configOf(first.stdout);
  first.child.kill('SIGTERM');
  assert.equal(await exited(first.child), 0);

  const second = await startCli(t, ['--port', '0', '--credentials', file, '--json']);
  const after = JSON.parse(second.stdout);
  for (const key of ['appId', 'appSecret', 'prvKey', 'civicPublicKey']) assert.equal(after[key], before[key], key);
  assert.equal(after.appId, saved.appId);
  // The same config keeps working against the restarted emulator.
  const { scriptUrl, stylesheetUrl, mintUrl, ...config } = after;
  const res = await httpRequest(mintUrl, { method: 'POST' });
  const result = await civicSip.newClient({ ...before, api: config.api }).exchangeCode(JSON.parse(res.body).authCode);
  assert.deepEqual(result.data, DEFAULT_USER_DATA.slice(0, 2));
  second.child.kill('SIGTERM');

  const notCredentials = path.join(dir, 'other.json');
  fs.writeFileSync(notCredentials, '{"appId":"x"}');
  const cases = [
    [['--credentials', file, '--app-id', 'x'], /^civic-sip-emulator: --credentials and --app-id cannot be combined: the file holds the credentials/],
    [['--credentials', notCredentials], /is not a credentials file \(a JSON object with appId, appSecret, prvKey, civicPrivateKey\); give a new path to make one\n$/],
    [['--credentials', path.join(dir, 'no', 'such', 'dir.json')], /^civic-sip-emulator: --credentials: cannot save \/.*\/no\/such\/dir\.json: ENOENT\n$/],
    [['--credentials', dir], /^civic-sip-emulator: --credentials: cannot read \/.*: EISDIR\n$/],
  ];
  for (const [args, stderr] of cases) {
    const out = await runCli(['--port', '0', ...args]);
    assert.equal(out.code, 2, args.join(' '));
    assert.equal(out.stdout, '');
    assert.match(out.stderr, stderr);
  }
  assert.equal(fs.readFileSync(notCredentials, 'utf8'), '{"appId":"x"}', 'never overwritten');
});

test('auth-code mints from a running emulator; each refusal is logged with its check, no secret', OPTS, async (t) => {
  const { child, stdout } = await startCli(t, ['--port', '0', '--json']);
  let stderr = '';
  child.stderr.on('data', (c) => { stderr += c; });
  const printed = JSON.parse(stdout);
  const { scriptUrl, stylesheetUrl, mintUrl, ...config } = printed;

  const minted = await runCli(['auth-code', '--url', printed.api, '--scope', 'PROOF_OF_EMAIL']);
  assert.equal(minted.code, 0, minted.stderr);
  assert.match(minted.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  const result = await civicSip.newClient(config).exchangeCode(minted.stdout.trim());
  assert.deepEqual(result.data.map((r) => r.label), ['contact.personal.email']);

  const wrongSecret = '11'.repeat(16);
  await assert.rejects(civicSip.newClient({ ...config, appSecret: wrongSecret }).exchangeCode(minted.stdout.trim()), {
    code: 'ERR_CIVIC_HTTP_STATUS', message: 'Error exchanging code for data: 401 - "{\\"message\\":\\"Unauthorized\\"}"',
  });
  const deadline = Date.now() + 5000;
  while (!stderr.includes('\n') && Date.now() < deadline) await new Promise((r) => { setTimeout(r, 20); });
  assert.match(stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z refused POST \/prod\/scopeRequest\/authCode with 401: civic-extension: the Civic extension is not the HMAC-SHA256 of the body keyed with the app's appSecret/);
  for (const secret of [config.appSecret, config.prvKey, wrongSecret]) assert.ok(!stderr.includes(secret));

  const port = await closedPort();
  const cases = [
    [['auth-code', '--url', `http://127.0.0.1:${port}/`], new RegExp(`^civic-sip-emulator: no emulator answers at http://127\\.0\\.0\\.1:${port}/ \\(ECONNREFUSED\\): start one with \`npx civic-sip-emulator\`, or pass --url\\n$`)],
    [['auth-code', '--url', printed.api, '--scope', 'NOPE'], /^civic-sip-emulator: http:\/\/127\.0\.0\.1:\d+\/ did not mint an auth code: Unknown scope request 'NOPE': expected one of /],
    [['auth-code', '--url', 'not a url'], /^civic-sip-emulator: --url must be the emulator's URL, such as http:\/\/127\.0\.0\.1:8080\/, not 'not a url'\n$/],
    [['auth-code', '--expires-in', 'soon'], /^civic-sip-emulator: --expires-in must be a number of seconds, not 'soon'\n$/],
    [['auth-code', '--bogus'], /^civic-sip-emulator: Unknown option '--bogus'/],
  ];
  for (const [args, expected] of cases) {
    const out = await runCli(args);
    assert.equal(out.code, 2, args.join(' '));
    assert.equal(out.stdout, '');
    assert.match(out.stderr, expected);
  }
});
