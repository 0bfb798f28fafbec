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
const net = require('node:net');

const civicSip = require('..');
const { DEFAULT_USER_DATA } = require('../emulator');
const { httpRequest } = require('./helpers/servers');

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
  assert.deepEqual(Object.keys(printed), ['appId', 'appSecret', 'prvKey', 'api', 'civicPublicKey', 'scriptUrl', 'stylesheetUrl']);
  assert.match(printed.appId, /^[0-9A-Za-z]{9}$/);
  assert.match(printed.appSecret, /^[0-9a-f]{32}$/);

  const ask = (parent) => httpRequest(`${printed.api}consent/request?${new URLSearchParams({ appId: printed.appId, scope: 'PROOF_OF_EMAIL', parent })}`);
  const res = await ask('http://localhost:3001');
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body).app, { appId: printed.appId, name: 'CLI shop' });
  assert.deepEqual(JSON.parse(res.body).records, [{ label: 'contact.personal.email', description: 'Email', value: 'cli@example.com' }]);
  assert.equal((await ask('http://localhost:4000')).status, 403);

  const { scriptUrl, stylesheetUrl, ...config } = printed;
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

  const busy = net.createServer();
  await new Promise((resolve) => { busy.listen(0, '127.0.0.1', resolve); });
  t.after(() => busy.close());
  const { port } = busy.address();

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
