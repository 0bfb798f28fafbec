'use strict';

// Deadlines hold and one hostile server cannot slow the others. The hostile servers run in
// processes of their own (helpers/flood.js), so their floods never share this test's event loop:
// what is measured is the client's own work. A server that answers the exchange POST with an
// endless stream of `103 Early Hints` interim responses is the case: hyper parses and drops them
// in a loop within one read, and tokio's cooperative budget counts reads, not their size, so
// without the client's metered reads one connection holds the exchanges' only worker thread for
// seconds at a time, past every deadline and every other server's exchange.
//
// The bounds are the issue's: a timeout or an abort settles within 100 ms of its moment (the
// median of four; none later than 250 ms, for a straggler on a loaded 2-core machine); a healthy
// exchange beside four floods within 50 ms of its usual time (medians of 15, measured here, on
// this machine, in this run). Bounds of tens of milliseconds hold only when the machine gives
// the client its CPU on time: `npm test` skips this suite, `npm run test:all` runs it
// (helpers/support.js timingDependent).
//
// Run: node --test __test__/flood.test.js

for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) {
  delete process.env[name];
}

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');

const civicSip = require('..');
const { startEmulator, DEFAULT_USER_DATA } = require('../emulator');
const { startFlood } = require('./helpers/flood');
const { timingDependent } = require('./helpers/support');
const { PREFIX, assertCivicError } = require('./helpers/assertions');

const OPTS = { timeout: 60000 };
const { codes } = civicSip;
const FLOODS = 4;
// The most a TCP connection's kernel buffers can hold (the sender's plus the receiver's, at their
// autotuning limits): a flood that wrote more than this was read by the client, at least the
// difference. Where the limits cannot be read, a bound above Linux's largest defaults.
const BUFFERED_MB = (() => {
  const max = (name) => Number(fs.readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
  try { return (max('tcp_rmem') + max('tcp_wmem')) / 2 ** 20; } catch { return 64; }
})();
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** Waits for `promise` (fails after `ms`); { ok, value | error, elapsed } on the monotonic clock. */
async function settle(promise, ms = 10000, start = now()) {
  let timer;
  const outcome = await Promise.race([
    promise.then((value) => ({ ok: true, value }), (error) => ({ ok: false, error })),
    new Promise((resolve) => { timer = setTimeout(resolve, ms, null); }),
  ]);
  clearTimeout(timer);
  assert.ok(outcome, `still pending after ${ms} ms`);
  return { ...outcome, elapsed: now() - start };
}
const aborted = { message: `${PREFIX}AbortError: The operation was aborted`, code: codes.ABORTED };

async function floods(t, mode, count = FLOODS) {
  const started = await Promise.all(Array.from({ length: count }, () => startFlood(mode)));
  t.after(() => Promise.all(started.map((f) => f.close())));
  return started;
}

async function emulator(t) {
  const emu = await startEmulator();
  t.after(() => emu.close());
  return emu;
}

/**
 * Resolves once every flood's connections are closed by the client (fails after `ms`): a
 * connection notices its exchange is gone when its thread next polls it, which on a loaded
 * machine can take seconds of its low-priority thread's turn.
 */
async function allClosed(servers, ms = 15000) {
  const until = Date.now() + ms;
  for (;;) {
    const states = await Promise.all(servers.map((f) => f.connections()));
    if (states.every((s) => s.accepted > 0 && s.open === 0)) return;
    assert.ok(Date.now() < until, `connections still open: ${JSON.stringify(states)}`);
    await sleep(50);
  }
}

/** The bytes each flood server has written so far. */
const written = async (servers) => (await Promise.all(servers.map((f) => f.connections()))).map((s) => s.written);

/**
 * Asserts that every flood flowed (since `before`): at least `atLeastMB` written by each server.
 * Only a figure above BUFFERED_MB proves the client read it; a smaller one proves the flood
 * reached the client while the measured thing happened.
 */
async function flowed(t, servers, when, atLeastMB, before = servers.map(() => 0)) {
  const now = await written(servers);
  const mb = now.map((n, i) => (n - before[i]) / 2 ** 20);
  const shown = mb.map((n) => n.toFixed(1)).join(', ');
  t.diagnostic(`flood ${when}: ${shown} MB written (kernel buffers: up to ${BUFFERED_MB.toFixed(0)} MB)`);
  assert.ok(mb.every((n) => n > atLeastMB), `flood ${when}: ${shown} MB written, expected more than ${atLeastMB.toFixed(1)} each`);
}

describe('timeout and signal are hard deadlines against a flood', timingDependent(), () => {
  test('endless 103 interim responses, as an endless body of 1-byte chunks: four 1,500 ms timeouts fire within 100 ms, and the connections are closed', OPTS, async (t) => {
    const emu = await emulator(t);
    const TIMEOUT = 1500;
    const timedOut = { message: `${PREFIX}Error: ETIMEDOUT: no answer within ${TIMEOUT} ms`, code: codes.TIMEOUT };
    for (const mode of ['interim', 'body']) {
      const servers = await floods(t, mode);
      const outcomes = await Promise.all(servers.map((f) => {
        const start = now();
        return settle(civicSip.newClient(emu.clientConfig({ api: f.url, timeout: TIMEOUT })).exchangeCode('code'), 10000, start);
      }));
      const late = outcomes.map((o) => o.elapsed - TIMEOUT);
      // The 103s came faster than hyper could drop them (the case that held the worker): each
      // connection read more than its buffers can hold. The 1-byte chunks come slower.
      await flowed(t, servers, `${mode}, during the timeouts`, mode === 'interim' ? BUFFERED_MB : 1);
      for (const outcome of outcomes) {
        assertCivicError(outcome.error, timedOut);
        assert.ok(outcome.elapsed >= TIMEOUT, `${mode}: settled after ${outcome.elapsed.toFixed(1)} ms`);
      }
      // The bound for the median; one straggler may lose the CPU to the rest of a shared
      // 2-core machine, never seconds as the flood made it.
      assert.ok(median(late) <= 100 && Math.max(...late) <= 250, `${mode}: ${late.map(Math.round).join(', ')} ms late`);
      await allClosed(servers);
    }
  });

  test('an abort during the flood settles within 100 ms of the abort', OPTS, async (t) => {
    const emu = await emulator(t);
    const servers = await floods(t, 'interim');
    const controller = new AbortController();
    const pending = servers.map((f) => civicSip.newClient(emu.clientConfig({ api: f.url, timeout: 20000 }))
      .exchangeCode('code', { signal: controller.signal }));
    await sleep(500);
    const reason = new Error('user left');
    const start = now();
    controller.abort(reason);
    const outcomes = await Promise.all(pending.map((p) => settle(p, 10000, start)));
    await flowed(t, servers, 'before the abort', 1);
    for (const outcome of outcomes) {
      assertCivicError(outcome.error, aborted);
      assert.equal(outcome.error.cause, reason);
    }
    const after = outcomes.map((o) => o.elapsed);
    assert.ok(median(after) <= 100 && Math.max(...after) <= 250, `settled ${after.map(Math.round).join(', ')} ms after the abort`);
    await allClosed(servers);
  });
});

describe('one hostile server cannot slow the others', timingDependent(), () => {
  test('an exchange with the emulator beside four floods settles within 50 ms of its usual time', OPTS, async (t) => {
    const emu = await emulator(t);
    const healthy = civicSip.newClient(emu.clientConfig());
    const expected = { data: DEFAULT_USER_DATA.map((r) => ({ ...r })), userId: 'h' };
    // n exchanges one after another, and more until `forMs` have passed.
    const timeExchanges = async (n, forMs = 0) => {
      const times = [];
      const until = Date.now() + forMs;
      for (let i = 0; i < n || Date.now() < until; i += 1) {
        const start = process.hrtime.bigint();
        assert.deepEqual(await healthy.exchangeCode(emu.mintAuthCode(undefined, { userId: 'h' })), expected);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      return times;
    };
    await timeExchanges(3); // warm-up: the connection, the key, the JIT
    const usual = await timeExchanges(15);

    const servers = await floods(t, 'interim');
    const controller = new AbortController();
    const flooded = servers.map((f) => civicSip.newClient(emu.clientConfig({ api: f.url, timeout: 30000 }))
      .exchangeCode('code', { signal: controller.signal }).catch((e) => e));
    await sleep(300); // the floods in full swing
    const before = await written(servers);
    // For 400 ms at least: 15 exchanges take a few tens of milliseconds, too short a window to
    // see each of four floods move on a loaded machine.
    const beside = await timeExchanges(15, 400);
    await flowed(t, servers, 'beside the healthy exchanges', 0.5, before);
    controller.abort();
    for (const error of await Promise.all(flooded)) assertCivicError(error, aborted);
    t.diagnostic(`usual ${usual.map(Math.round).join(' ')} ms; beside ${FLOODS} floods, ${beside.length} exchanges: median ${median(beside).toFixed(1)} ms, slowest ${Math.max(...beside).toFixed(1)} ms`);
    assert.ok(median(beside) <= median(usual) + 50,
      `median ${median(beside).toFixed(1)} ms beside the floods, ${median(usual).toFixed(1)} ms usually`);
    await allClosed(servers);
  });
});
