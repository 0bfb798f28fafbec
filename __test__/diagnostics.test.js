'use strict';

// What a user debugging a failed sign-in sees: rejections whose stack points at the call, and
// the exchange on a diagnostics_channel TracingChannel for APM tools.
//
// Run: node --test __test__/diagnostics.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const diagnosticsChannel = require('node:diagnostics_channel');
const { AsyncLocalStorage } = require('node:async_hooks');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const civicSip = require('..');
const { emulator: start } = require('./helpers/support');
const { closedPort } = require('./helpers/servers');

const OPTS = { timeout: 20000 };
const PREFIX = 'Error exchanging code for data: ';

/** The first frame of `error.stack` after its message line. */
function firstFrame(error) {
  const lines = error.stack.split('\n');
  assert.equal(lines[0], `${error.name}: ${error.message}`, 'the stack starts with the message, unchanged');
  return lines[1];
}

const here = (fn) => new RegExp(`^    at (async )?${fn} \\(${__filename.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+\\)$`);

test("a rejection's stack starts at the line that called exchangeCode, its message and code unchanged", OPTS, async (t) => {
  const emu = await start(t);
  const port = await closedPort();
  const refused = civicSip.newClient(emu.clientConfig({ api: `http://127.0.0.1:${port}/` }));
  const client = civicSip.newClient(emu.clientConfig());

  async function signInRoute(c, code, options) {
    return c.exchangeCode(code, options);
  }
  const cases = [
    ['network', () => signInRoute(refused, 'code'), 'ERR_CIVIC_NETWORK', `${PREFIX}Error: connect ECONNREFUSED 127.0.0.1:${port}`],
    ['HTTP status', () => { emu.fault('unauthorized', { times: 1 }); return signInRoute(client, emu.mintAuthCode()); },
      'ERR_CIVIC_HTTP_STATUS', `${PREFIX}401 - "{\\"message\\":\\"Unauthorized\\"}"`],
    ['verification', () => { emu.fault('wrongKey', { times: 1 }); return signInRoute(client, emu.mintAuthCode()); },
      'ERR_CIVIC_VERIFICATION', `${PREFIX}JWT Token containing encrypted data could not be verified`],
    ['argument', () => signInRoute(client, 42), 'ERR_INVALID_ARG_TYPE', `${PREFIX}the auth code must be a string, not a number`],
    ['abort', () => signInRoute(client, emu.mintAuthCode(), { signal: AbortSignal.abort() }), 'ABORT_ERR', `${PREFIX}AbortError: The operation was aborted`],
  ];
  for (const [why, call, code, message] of cases) {
    const error = await call().then(() => assert.fail(`${why}: resolved`), (e) => e);
    assert.equal(error.code, code, why);
    assert.equal(error.message, message, why);
    assert.match(firstFrame(error), here('signInRoute'), why);
  }

  // The callback form too.
  function callbackRoute(done) {
    refused.exchangeCode('code', (error) => done(error));
  }
  const viaCallback = await new Promise((resolve) => { callbackRoute(resolve); });
  assert.equal(viaCallback.code, 'ERR_CIVIC_NETWORK');
  assert.match(firstFrame(viaCallback), here('callbackRoute'));

  // processPayload's processed reply, whose payload fetch fails.
  async function payloadRoute() {
    return client.processPayload({ statusCode: 200, body: JSON.stringify({ data: `http://127.0.0.1:${port}/p`, processed: true, encrypted: true, userId: 'u' }) });
  }
  const viaPayload = await payloadRoute().then(() => assert.fail('resolved'), (e) => e);
  assert.equal(viaPayload.code, 'ERR_CIVIC_NETWORK');
  assert.match(viaPayload.message, /^Could not return data from processed payload url: RequestError: Error: connect ECONNREFUSED/);
  assert.match(firstFrame(viaPayload), here('payloadRoute'));
});

test('an unhandled rejection prints the file and line of the call', OPTS, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-stack-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const port = await closedPort();
  const app = path.join(dir, 'app.js');
  fs.writeFileSync(app, `const civicSip = require(${JSON.stringify(path.resolve(__dirname, '..'))});
const client = civicSip.newClient({ appId: 'app', appSecret: '${'0'.repeat(32)}', prvKey: '${'1'.repeat(64)}', api: 'http://127.0.0.1:${port}/' });
function signIn(code) {
  return client.exchangeCode(code);
}
signIn('code');
`);
  const run = spawnSync(process.execPath, [app], { encoding: 'utf8', timeout: 15000 });
  assert.equal(run.status, 1);
  assert.match(run.stderr, new RegExp(`Error: ${PREFIX}Error: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\n    at signIn \\(${app.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4:17\\)`));
  assert.match(run.stderr, /code: 'ERR_CIVIC_NETWORK'/);
});

test('diagnostics_channel: each exchange is traced on tracing:civic-sip-native:exchangeCode', { ...OPTS, skip: typeof diagnosticsChannel.tracingChannel !== 'function' && 'no TracingChannel in this Node' }, async (t) => {
  const emu = await start(t);
  const channel = diagnosticsChannel.tracingChannel('civic-sip-native:exchangeCode');
  const events = [];
  const handlers = {};
  const spans = new AsyncLocalStorage();
  for (const name of ['start', 'end', 'asyncStart', 'asyncEnd', 'error']) {
    handlers[name] = (context) => events.push([name, context, spans.getStore()]);
  }
  channel.subscribe(handlers);
  t.after(() => channel.unsubscribe(handlers));
  // An APM tool keeps its span in an AsyncLocalStorage bound to the start channel.
  channel.start.bindStore(spans, (context) => ({ span: `exchange of ${context.appId}` }));
  t.after(() => channel.start.unbindStore(spans));

  const client = civicSip.newClient(emu.clientConfig());
  const authCode = emu.mintAuthCode();
  const userData = await client.exchangeCode(authCode);
  assert.deepEqual(events.map(([name]) => name), ['start', 'end', 'asyncStart', 'asyncEnd']);
  // The span is current while the exchange is traced, and the caller's context comes back after.
  for (const [name, , store] of events) assert.deepEqual(store, { span: `exchange of ${emu.app.appId}` }, name);
  assert.equal(spans.getStore(), undefined);
  const context = events[0][1];
  assert.deepEqual(Object.keys(context), ['appId']);
  assert.equal(context.appId, emu.app.appId);
  // Never the user data (nor a secret or the auth code): subscribers are APM agents that export.
  assert.equal(context.result, undefined);
  assert.equal(userData.data.length, 2);
  for (const secret of [emu.app.appSecret, emu.app.prvKey, authCode, 'user@example.com']) assert.ok(!JSON.stringify(context).includes(secret));

  events.length = 0;
  emu.fault('unauthorized', { times: 1 });
  const error = await client.exchangeCode(emu.mintAuthCode()).catch((e) => e);
  assert.deepEqual(events.map(([name]) => name), ['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
  assert.equal(events[2][1].error, error);
  assert.equal(error.code, 'ERR_CIVIC_HTTP_STATUS');

  // Not traced without subscribers, and a client's channel is one for all clients.
  channel.unsubscribe(handlers);
  events.length = 0;
  await client.exchangeCode(emu.mintAuthCode());
  assert.deepEqual(events, []);
  channel.subscribe(handlers);
});
