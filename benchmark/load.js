'use strict';

// One measurement in a fresh process: `node load.js <client> <inFlight> <seconds>`, config and
// auth code in BENCH_CONFIG. Prints one JSON line: exchanges, wall time, CPU of the whole
// process (all threads), context switches (all threads, voluntary and involuntary, from
// getrusage), event-loop delay while exchanging, peak RSS.

const fs = require('node:fs');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const [clientName, inFlightArg, secondsArg] = process.argv.slice(2);
const inFlight = Number(inFlightArg);
const seconds = Number(secondsArg);
const { config, authCode } = JSON.parse(process.env.BENCH_CONFIG);

function makeClient(name) {
  if (name === 'civic-sip-native') return require('..').newClient(config);
  if (name === 'node:crypto') return require('./clients/node-crypto').createClient(config);
  if (name === 'civic-sip-api') {
    // civic-sip-api trusts only Civic's production key; swap in the emulator's, as its own tests do.
    const civicSipApi = require('rewire')('civic-sip-api');
    civicSipApi.__get__('hostedServices').SIPHostedService.hexpub = config.civicPublicKey;
    return civicSipApi.newClient(config);
  }
  throw new Error(`unknown client ${name}`);
}

async function run(client, count, deadline) {
  let started = 0;
  let done = 0;
  let failed = 0;
  let firstError;
  const worker = async () => {
    while (started < count || (deadline && performance.now() < deadline)) {
      started += 1;
      try {
        const { data } = await client.exchangeCode(authCode);
        if (!Array.isArray(data)) throw new Error('exchange returned no records');
        done += 1;
      } catch (error) {
        failed += 1;
        firstError ??= error.message;
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { done, failed, firstError };
}

// Each thread's voluntary and involuntary context switches so far, by thread name (Linux only:
// /proc/self/task; elsewhere empty). Threads of the same name are summed.
function switchesByThread() {
  const byName = {};
  let tasks = [];
  try { tasks = fs.readdirSync('/proc/self/task'); } catch { return byName; }
  for (const tid of tasks) {
    try {
      const status = fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
      const field = (name) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      const name = tid === String(process.pid) ? 'main' : /^Name:\s*(.*)$/m.exec(status)?.[1] ?? tid;
      const entry = (byName[name] ??= { voluntary: 0, involuntary: 0 });
      entry.voluntary += field('voluntary_ctxt_switches');
      entry.involuntary += field('nonvoluntary_ctxt_switches');
    } catch { /* the thread ended */ }
  }
  return byName;
}

async function main() {
  const client = makeClient(clientName);
  await run(client, Math.max(inFlight, 8), 0); // warm up: connections, JIT, lazy init

  const delay = monitorEventLoopDelay({ resolution: 1 });
  const cpu0 = process.cpuUsage();
  const usage0 = process.resourceUsage();
  const threads0 = switchesByThread();
  const t0 = performance.now();
  delay.enable();
  const { done: exchanges, failed, firstError } = await run(client, inFlight, t0 + seconds * 1000);
  delay.disable();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const usage = process.resourceUsage();
  const threads1 = switchesByThread();
  const voluntary = usage.voluntaryContextSwitches - usage0.voluntaryContextSwitches;
  const involuntary = usage.involuntaryContextSwitches - usage0.involuntaryContextSwitches;

  process.stdout.write(`${JSON.stringify({
    client: clientName,
    inFlight,
    exchanges,
    failed,
    firstError,
    wallMs,
    cpuUsPerExchange: (cpu.user + cpu.system) / exchanges,
    exchangesPerSecond: exchanges / (wallMs / 1000),
    contextSwitchesPerExchange: (voluntary + involuntary) / exchanges,
    voluntarySwitchesPerExchange: voluntary / exchanges,
    // Per thread with any switches in the measured seconds: [voluntary, involuntary] per exchange.
    switchesPerExchangeByThread: Object.fromEntries(Object.entries(threads1).flatMap(([name, t]) => {
      const v = (t.voluntary - (threads0[name]?.voluntary ?? 0)) / exchanges;
      const i = (t.involuntary - (threads0[name]?.involuntary ?? 0)) / exchanges;
      return v + i >= 0.01 ? [[name, [Number(v.toFixed(2)), Number(i.toFixed(2))]]] : [];
    })),
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  })}\n`);
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
