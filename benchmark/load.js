'use strict';

// One measurement in a fresh process: `node load.js <client> <inFlight> <seconds>`, config and
// auth code in BENCH_CONFIG. Prints one JSON line: exchanges, wall time, CPU of the whole
// process (all threads), context switches (all threads, voluntary and involuntary, from
// getrusage), event-loop delay while exchanging, peak RSS.

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

async function main() {
  const client = makeClient(clientName);
  await run(client, Math.max(inFlight, 8), 0); // warm up: connections, JIT, lazy init

  const delay = monitorEventLoopDelay({ resolution: 1 });
  const cpu0 = process.cpuUsage();
  const usage0 = process.resourceUsage();
  const t0 = performance.now();
  delay.enable();
  const { done: exchanges, failed, firstError } = await run(client, inFlight, t0 + seconds * 1000);
  delay.disable();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const usage = process.resourceUsage();
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
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    loopDelayMaxMs: delay.max / 1e6,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  })}\n`);
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
