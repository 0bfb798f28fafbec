'use strict';

// `npm run bench`: civic-sip-native, civic-sip-api and a plain node:crypto client doing the same
// full exchanges against the emulator (in its own process), each measurement in a fresh process,
// then micro-benchmarks of the two halves. Prints a table with ratios and writes
// benchmark/results.json.

const { execFileSync, fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
// Where cargo builds (micro's executable), as cargo itself decides it.
const targetDir = require('../scripts/build').targetDir();
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const IN_FLIGHT = (process.env.BENCH_IN_FLIGHT ?? '1,16,256').split(',').map(Number);
const CLIENTS = ['civic-sip-native', 'node:crypto', 'civic-sip-api'];

// The emulator stands in for Civic's servers, which run on other machines: where there are two
// or more cores it is pinned to the last one and the clients to the others, so its CPU does not
// compete with the client under test.
function cpuPlan() {
  const cores = os.cpus().length;
  let taskset = false;
  try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); taskset = true; } catch { /* not on this OS */ }
  if (!taskset || cores < 2) return { pinned: false };
  return { pinned: true, emulator: String(cores - 1), clients: cores === 2 ? '0' : `0-${cores - 2}` };
}

function startEmulator(plan) {
  const child = fork(path.join(__dirname, 'emulator-process.js'));
  if (plan.pinned) execFileSync('taskset', ['-p', '-c', plan.emulator, String(child.pid)], { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('message', (setup) => resolve({ child, setup }));
    child.once('error', reject);
  });
}

async function sampleReply(config, authCode) {
  const client = require('./clients/node-crypto').createClient(config);
  const body = JSON.stringify({ allowS3UploadedPayload: true, authToken: authCode });
  const response = await fetch(`${config.api}prod/scopeRequest/authCode`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: client.authorization(body) },
    body,
  });
  return response.text();
}

function machine() {
  const cpus = os.cpus();
  let rustc = '';
  try { rustc = execFileSync('rustc', ['--version']).toString().trim(); } catch { /* not needed */ }
  return {
    cpu: cpus[0]?.model, cores: cpus.length, memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`, node: process.version, rustc,
  };
}

// The addons built on this machine: the host build (`npm run build`) and the cross builds
// (`npm run build:platforms`) in npm/<platform>/. Release builds strip symbols (Cargo.toml);
// `stripped` says whether the file has no symbol table left (readelf, where installed).
function binaries() {
  const found = [];
  const add = (platform, file) => {
    if (!fs.existsSync(file)) return;
    let stripped;
    try { stripped = !execFileSync('readelf', ['-S', '-W', file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().includes('.symtab'); } catch { /* not ELF, or no readelf */ }
    const { size, mtime } = fs.statSync(file);
    found.push({ platform, file: path.relative(root, file), bytes: size, MB: size / 1e6, stripped, built: mtime.toISOString() });
  };
  for (const name of fs.readdirSync(root)) {
    const m = /^civic-sip-native\.(.+)\.node$/.exec(name);
    if (m) add(`${m[1]} (host build)`, path.join(root, name));
  }
  for (const platform of fs.readdirSync(path.join(root, 'npm'))) {
    add(platform, path.join(root, 'npm', platform, `civic-sip-native.${platform}.node`));
  }
  return found;
}

const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (a, b) => `${fmt(a / b, a / b >= 100 ? 0 : 1)}x`;

async function main() {
  require('../scripts/build').ensureBuilt();
  execFileSync('cargo', ['build', '--release', '--no-default-features', '--features', 'bench', '--example', 'micro'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });

  const plan = cpuPlan();
  const { child, setup } = await startEmulator(plan);
  const reply = await sampleReply(setup.config, setup.authCode);
  const env = { ...process.env, BENCH_CONFIG: JSON.stringify(setup) };
  const load = [];
  try {
    for (const inFlight of IN_FLIGHT) {
      for (const client of CLIENTS) {
        const command = [process.execPath, path.join(__dirname, 'load.js'), client, String(inFlight), String(SECONDS)];
        const out = plan.pinned
          ? execFileSync('taskset', ['-c', plan.clients, ...command], { env })
          : execFileSync(command[0], command.slice(1), { env });
        const result = JSON.parse(out.toString());
        load.push(result);
        console.error(`  ${client} @ ${inFlight}: ${fmt(result.cpuUsPerExchange)} µs CPU/exchange`
          + `${result.failed ? `, ${result.failed} failed (${result.firstError})` : ''}`);
      }
    }
  } finally {
    child.disconnect();
  }

  const microInput = JSON.stringify({ ...setup, reply });
  const micro = [
    { implementation: 'civic-sip-native (Rust core)', ...JSON.parse(execFileSync(path.join(targetDir, 'release', 'examples', 'micro'), { input: microInput }).toString()) },
    ...execFileSync(process.execPath, [path.join(__dirname, 'micro.js')], { env: { ...process.env, BENCH_MICRO: microInput } })
      .toString().trim().split('\n').map((line) => JSON.parse(line)),
  ];

  const results = { date: new Date().toISOString(), machine: machine(), loadAverage: os.loadavg(), cpuPlan: plan, secondsPerRun: SECONDS, load, micro, binaries: binaries() };
  fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);

  console.log(`\nMachine: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, ${results.machine.node}`);
  console.log(plan.pinned ? `Emulator pinned to CPU ${plan.emulator}, clients to CPU ${plan.clients}.` : 'Nothing pinned.');
  console.log(`Load average at the end: ${results.loadAverage.map((l) => fmt(l, 2)).join(', ')} (other work on the machine skews the absolute figures).`);
  console.log('\n| client | in flight | CPU µs/exchange | context switches/exchange | exchanges/s | loop delay p99 ms | loop delay max ms | peak RSS MB | failed |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of load) {
    console.log(`| ${r.client} | ${r.inFlight} | ${fmt(r.cpuUsPerExchange)} | ${fmt(r.contextSwitchesPerExchange, 1)} | ${fmt(r.exchangesPerSecond)} | ${fmt(r.loopDelayP99Ms, 1)} | ${fmt(r.loopDelayMaxMs, 1)} | ${fmt(r.peakRssMB)} | ${r.failed} |`);
  }
  console.log('\n| in flight | CPU: civic-sip-api / native | CPU: node:crypto / native | throughput: native / node:crypto |');
  console.log('| ---: | ---: | ---: | ---: |');
  for (const inFlight of IN_FLIGHT) {
    const at = (c) => load.find((r) => r.client === c && r.inFlight === inFlight);
    const [n, p, c] = CLIENTS.map(at);
    console.log(`| ${inFlight} | ${ratio(c.cpuUsPerExchange, n.cpuUsPerExchange)} | ${ratio(p.cpuUsPerExchange, n.cpuUsPerExchange)} | ${ratio(n.exchangesPerSecond, p.exchangesPerSecond)} |`);
  }
  console.log('\n| implementation | Authorization header µs | verify + decrypt µs |');
  console.log('| --- | ---: | ---: |');
  for (const m of micro) console.log(`| ${m.implementation} | ${fmt(m.authorizationHeaderUs, 1)} | ${fmt(m.verifyDecryptUs, 1)} |`);
  console.log('\n| addon built here | MB | symbols stripped | built |');
  console.log('| --- | ---: | --- | --- |');
  for (const b of results.binaries) console.log(`| ${b.platform} | ${fmt(b.MB, 2)} | ${b.stripped === undefined ? '?' : b.stripped ? 'yes' : 'no'} | ${b.built.slice(0, 16)} |`);
  console.log('\nWritten to benchmark/results.json');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
