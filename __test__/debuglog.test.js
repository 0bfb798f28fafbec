'use strict';

// NODE_DEBUG=civic-sip-native: one line per step of an exchange with its time (request sent,
// status and size, payload fetch, verification and its reason, decryption, retry waits,
// settle), and never a secret, an auth code, a token, a payload URL's path or the user data.
// Each case runs in a child process, since util.debuglog reads NODE_DEBUG once per process.
//
// Run: node --test __test__/debuglog.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');

const OPTS = { timeout: 30000 };

// The child: an emulator and a client in one process; the scenario named by its last argument runs and
// the values that must not be printed go to stdout as JSON.
const CHILD = `
const civicSip = require(${JSON.stringify(path.join(__dirname, '..'))});
const { startEmulator } = require(${JSON.stringify(path.join(__dirname, '..', 'emulator'))});
(async () => {
  const emu = await startEmulator();
  const config = { ...emu.clientConfig(), retries: 1 };
  const client = civicSip.newClient(config);
  const authCodes = [];
  const code = () => { const c = emu.mintAuthCode(); authCodes.push(c); return c; };
  const outcomes = [];
  const run = async (fault, options) => {
    if (fault) emu.fault(fault, { times: 1, ...options });
    try {
      const user = await client.exchangeCode(code());
      outcomes.push({ ok: true, data: user.data, userId: user.userId });
    } catch (error) {
      outcomes.push({ ok: false, code: error.code, reason: error.reason });
    }
  };
  const scenario = process.argv.at(-1);
  if (scenario === 'success') await run(null);
  if (scenario === 'unauthorized') await run('unauthorized');
  if (scenario === 'wrongKey') await run('wrongKey');
  if (scenario === 'expired') await run('expiredResponse', { secondsAgo: 300 });
  if (scenario === 'retry') await run('rateLimited');
  if (scenario === 'processed') await run('processed');
  if (scenario === 'processPayload') {
    // The app posts the auth code itself and hands Civic's processed reply to processPayload.
    emu.fault('processed', { times: 1 });
    const { signedExchange } = require(${JSON.stringify(path.join(__dirname, 'helpers', 'civic'))});
    const reply = await signedExchange(emu, code());
    await client.processPayload({ statusCode: reply.status, body: reply.body }).then(
      (user) => outcomes.push({ ok: true, data: user.data, userId: user.userId }),
      (error) => outcomes.push({ ok: false, code: error.code }),
    );
  }
  const payloadPaths = emu.requests.map((r) => r.path || r.url).filter((p) => p && p.includes('payload'));
  process.stdout.write(JSON.stringify({
    outcomes, authCodes, appSecret: config.appSecret, prvKey: config.prvKey, payloadPaths,
  }));
  await emu.close();
})().catch((e) => { console.error('child failed', e); process.exit(1); });
`;

function runChild(scenario, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, scenario], {
      cwd: __dirname,
      env: { ...process.env, NODE_DEBUG: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (status) => {
      if (status !== 0) reject(new Error(`child exited ${status}: ${stderr}`));
      else resolve({ ...JSON.parse(stdout), lines: stderr.split('\n').filter(Boolean) });
    });
  });
}

const LINE = /^CIVIC-SIP-NATIVE \d+: (exchangeCode|processPayload) \+\d+\.\d ms (.+)$/;

/** The steps of the child's stderr, without the prefix and time; every line must be one. */
function steps(lines) {
  return lines.map((line) => {
    const match = LINE.exec(line);
    assert.ok(match, `not a step line: ${line}`);
    return match[2];
  });
}

/** No value of `secrets` (nor a JWT, nor the emulator's user data) in any line. */
function assertNothingSecret(run) {
  const text = run.lines.join('\n');
  const values = [run.appSecret, run.prvKey, ...run.authCodes];
  // A payload URL is pre-signed as S3's are: neither its path nor any part of its query.
  for (const target of run.payloadPaths) {
    const [pathPart, query] = target.split('?');
    assert.ok(query, `the emulator's payload URL has its pre-signed query: ${target}`);
    values.push(pathPart, query, new URLSearchParams(query).get('X-Amz-Signature'));
  }
  assert.doesNotMatch(run.lines.join('\n'), /X-Amz-/);
  for (const outcome of run.outcomes) {
    if (outcome.ok) {
      values.push(outcome.userId);
      for (const record of outcome.data) values.push(record.value);
    }
  }
  for (const value of values) {
    assert.ok(typeof value === 'string' && value.length > 3, `a value to look for: ${value}`);
    assert.ok(!text.includes(value), `${value} printed:\n${text}`);
  }
  // The appSecret and key in either case, and anything shaped like a JWT (a response token).
  assert.ok(!text.toLowerCase().includes(run.appSecret.toLowerCase()));
  assert.ok(!text.toLowerCase().includes(run.prvKey.toLowerCase()));
  assert.doesNotMatch(text, /eyJ[\w-]+\.[\w-]+/);
  assert.doesNotMatch(text, /user@example\.com|555 0100/);
}

const post = /^exchange: POST to 127\.0\.0\.1:\d+ \(attempt (\d)\)$/;

test('a success: the request, its status and size, verification, decryption, settle, in order', OPTS, async () => {
  const run = await runChild('success', { NODE_DEBUG: 'civic-sip-native' });
  assert.equal(run.outcomes[0].ok, true);
  const got = steps(run.lines);
  assert.equal(got.length, 5, got.join('\n'));
  assert.match(got[0], post);
  assert.match(got[1], /^exchange: status 200, \d+ bytes$/);
  assert.equal(got[2], 'response token verified');
  assert.match(got[3], /^user data decrypted: \d+ bytes of JSON$/);
  assert.equal(got[4], 'settled: resolved');
  // Times grow: each line's offset is at least the one before.
  const times = run.lines.map((l) => Number(/\+(\d+\.\d) ms/.exec(l)[1]));
  assert.deepEqual([...times].sort((a, b) => a - b), times);
  assertNothingSecret(run);
});

test('a 401: the status and the settle with its code', OPTS, async () => {
  const run = await runChild('unauthorized', { NODE_DEBUG: 'civic-sip-native' });
  assert.equal(run.outcomes[0].code, 'ERR_CIVIC_HTTP_STATUS');
  assert.deepEqual(steps(run.lines).slice(1), [
    'exchange: status 401, 26 bytes',
    'settled: rejected, ERR_CIVIC_HTTP_STATUS',
  ]);
  assertNothingSecret(run);
});

test('verification failures say their reason: a foreign signature, an expired token', OPTS, async () => {
  const foreign = await runChild('wrongKey', { NODE_DEBUG: 'civic-sip-native' });
  assert.deepEqual(steps(foreign.lines).slice(2), [
    'response token refused (signature): the signature is valid under none of the configured Civic keys',
    'settled: rejected, ERR_CIVIC_VERIFICATION (signature)',
  ]);
  assertNothingSecret(foreign);
  const expired = await runChild('expired', { NODE_DEBUG: 'civic-sip-native' });
  const got = steps(expired.lines);
  assert.match(got[2], /^response token refused \(expired\): its exp, \d+(\.\d+)?, has passed$/);
  const exp = Number(/exp, ([\d.]+),/.exec(got[2])[1]);
  assert.ok(Math.abs(Date.now() / 1000 - 300 - exp) < 60, `exp ${exp}`);
  assert.equal(got[3], 'settled: rejected, ERR_CIVIC_VERIFICATION (expired)');
  assertNothingSecret(expired);
});

test('a retry: the 429, the wait and why, the second attempt', OPTS, async () => {
  const run = await runChild('retry', { NODE_DEBUG: 'civic-sip-native' });
  assert.equal(run.outcomes[0].ok, true);
  const got = steps(run.lines);
  assert.match(got[0], post);
  assert.equal(post.exec(got[0])[1], '1');
  assert.match(got[1], /^exchange: status 429, \d+ bytes$/);
  const wait = /^retry in (\d+) ms after status 429$/.exec(got[2]);
  assert.ok(wait, got[2]);
  assert.ok(Number(wait[1]) >= 100 && Number(wait[1]) <= 200, `backoff ${wait[1]} ms`);
  assert.equal(post.exec(got[3])[1], '2');
  // The second attempt is sent no sooner than the wait said.
  const at = (i) => Number(/\+(\d+\.\d) ms/.exec(run.lines[i])[1]);
  assert.ok(at(3) - at(2) >= Number(wait[1]) - 1, `${at(3)} - ${at(2)}`);
  assert.equal(got.at(-1), 'settled: resolved');
  assertNothingSecret(run);
});

test('a processed payload: its fetch names the host only, never the pre-signed path or query', OPTS, async () => {
  const run = await runChild('processed', { NODE_DEBUG: 'civic-sip-native' });
  assert.equal(run.outcomes[0].ok, true);
  const got = steps(run.lines);
  assert.match(got[2], /^exchange: the user data waits at a processed payload URL on 127\.0\.0\.1:\d+$/);
  assert.match(got[3], /^payload: GET from 127\.0\.0\.1:\d+ \(attempt 1\)$/);
  assert.match(got[4], /^payload: status 200, \d+ bytes$/);
  assert.deepEqual(got.slice(5), ['response token verified', got[6], 'settled: resolved']);
  assert.ok(run.payloadPaths.length > 0, 'the payload was fetched');
  assertNothingSecret(run);
});

test('processPayload of a processed reply: the payload fetch, verification, decryption, settle', OPTS, async () => {
  const run = await runChild('processPayload', { NODE_DEBUG: 'civic-sip-native' });
  assert.equal(run.outcomes[0].ok, true);
  assert.ok(run.lines.every((line) => / processPayload \+/.test(line)), run.lines.join('\n'));
  const got = steps(run.lines);
  assert.match(got[0], /^payload: GET from 127\.0\.0\.1:\d+ \(attempt 1\)$/);
  assert.match(got[1], /^payload: status 200, \d+ bytes$/);
  assert.equal(got[2], 'response token verified');
  assert.match(got[3], /^user data decrypted: \d+ bytes of JSON$/);
  assert.equal(got[4], 'settled: resolved');
  assert.equal(got.length, 5);
  assertNothingSecret(run);
});

test('without NODE_DEBUG, or with another section, nothing is printed', OPTS, async () => {
  // (Sections that would match a prefix or a word of the name, and nothing else that logs.)
  for (const env of [{}, { NODE_DEBUG: 'civic,sip,native,civic-sip' }]) {
    const run = await runChild('success', env);
    assert.equal(run.outcomes[0].ok, true);
    assert.deepEqual(run.lines, [], JSON.stringify(env));
  }
  // Listed with others, it is on.
  const listed = await runChild('unauthorized', { NODE_DEBUG: 'foo,civic-sip-native' });
  assert.equal(steps(listed.lines).at(-1), 'settled: rejected, ERR_CIVIC_HTTP_STATUS');
});

test('JS that throws while the lines are handed over fails no promise and leaks into no other exchange', OPTS, async () => {
  const { emulator, runNode } = require('./helpers/support');
  const emu = await emulator({ after() {} });
  try {
    // A setter on Array.prototype[0] throws once, for the first exchange's first debug line.
    const script = `
      let armed = true;
      Object.defineProperty(Array.prototype, 0, { configurable: true, set(v) {
        if (armed && typeof v === 'string' && v.includes(' ms exchange: ')) { armed = false; throw new Error('setter boom'); }
        Object.defineProperty(this, 0, { value: v, writable: true, enumerable: true, configurable: true });
      } });
      const client = require(${JSON.stringify(path.join(__dirname, '..'))}).newClient(${JSON.stringify(emu.clientConfig())});
      const timer = setTimeout(() => { process.stdout.write('hung'); process.exit(3); }, 10000);
      (async () => {
        const first = await client.exchangeCode('not-an-auth-code').then(() => 'resolved', (e) => e.code);
        const second = await client.exchangeCode(${JSON.stringify(emu.mintAuthCode(undefined, { userId: 'after-boom' }))}).then((u) => u.userId, (e) => e.message);
        clearTimeout(timer);
        process.stdout.write(JSON.stringify({ first, second, armed }));
      })();`;
    const { code, stdout, stderr } = await runNode(script, { env: { NODE_DEBUG: 'civic-sip-native' } });
    assert.equal(code, 0, `${stdout} ${stderr}`);
    assert.deepEqual(JSON.parse(stdout), { first: 'ERR_CIVIC_HTTP_STATUS', second: 'after-boom', armed: false });
  } finally {
    await emu.close();
  }
});
