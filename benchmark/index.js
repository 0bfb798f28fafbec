'use strict';

// `npm run bench`: civic-sip-native, civic-sip-api and a plain node:crypto client doing the same
// full exchanges against the emulator (in its own process), over HTTP and over HTTPS (the emulator
// with a certificate issued by a root made here, which every client trusts through
// NODE_EXTRA_CA_CERTS, as it would a private root in production), each measurement in a fresh
// process, then micro-benchmarks of the two halves. Prints a table with ratios and writes
// benchmark/results.json.
//
// BENCH_BASELINE=<path to another build's .node> also runs that build (loaded through
// NAPI_RS_NATIVE_LIBRARY_PATH) as "civic-sip-native (baseline)", right after ours at each step:
// an A/B of two builds in one run.

const { execFileSync, fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
// Where cargo builds (micro's executable), as cargo itself decides it.
const targetDir = require('../scripts/build').targetDir();
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const IN_FLIGHT = (process.env.BENCH_IN_FLIGHT ?? '1,16,256').split(',').map(Number);
const BASELINE = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : undefined;
const BASELINE_NAME = 'civic-sip-native (baseline)';
const CLIENTS = ['civic-sip-native', ...(BASELINE ? [BASELINE_NAME] : []), 'node:crypto', 'civic-sip-api'];
const TRANSPORTS = (process.env.BENCH_TRANSPORTS ?? 'http,https').split(',');

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

// A root and a certificate for 127.0.0.1 issued by it (P-256), made with the openssl CLI as the
// TLS test fixtures are (__test__/fixtures/tls/make-localhost.sh).
function makeCertificates() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-bench-tls-'));
  const file = (name) => path.join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=civic-sip-native bench root', '-keyout', file('root-key.pem'), '-out', file('root.pem'));
  openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', '/CN=127.0.0.1', '-keyout', file('key.pem'), '-out', file('req.csr'));
  fs.writeFileSync(file('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', file('req.csr'), '-CA', file('root.pem'), '-CAkey', file('root-key.pem'),
    '-CAcreateserial', '-days', '2', '-extfile', file('ext.cnf'), '-out', file('cert.pem'));
  return {
    dir,
    root: file('root.pem'),
    tls: { key: fs.readFileSync(file('key.pem'), 'utf8'), cert: fs.readFileSync(file('cert.pem'), 'utf8') },
  };
}

function startEmulator(plan, tls) {
  const env = { ...process.env };
  if (tls) env.BENCH_TLS = JSON.stringify(tls);
  const child = fork(path.join(__dirname, 'emulator-process.js'), { env });
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
  const certificates = TRANSPORTS.includes('https') ? makeCertificates() : undefined;
  const emulators = {};
  const load = [];
  let setup;
  let reply;
  try {
    for (const transport of TRANSPORTS) {
      emulators[transport] = await startEmulator(plan, transport === 'https' ? certificates.tls : undefined);
    }
    // The reply the micro-benchmarks open.
    setup = (emulators.http ?? emulators[TRANSPORTS[0]]).setup;
    reply = await sampleReply(setup.config, setup.authCode);
    for (const transport of TRANSPORTS) {
      const { setup } = emulators[transport];
      const env = { ...process.env, BENCH_CONFIG: JSON.stringify(setup) };
      // Trusted as a private root is in production: by Node's variable, for every client alike.
      if (transport === 'https') env.NODE_EXTRA_CA_CERTS = certificates.root;
      for (const inFlight of IN_FLIGHT) {
        for (const client of CLIENTS) {
          const runEnv = client === BASELINE_NAME ? { ...env, NAPI_RS_NATIVE_LIBRARY_PATH: BASELINE } : env;
          const name = client === BASELINE_NAME ? 'civic-sip-native' : client;
          const command = [process.execPath, path.join(__dirname, 'load.js'), name, String(inFlight), String(SECONDS)];
          const out = plan.pinned
            ? execFileSync('taskset', ['-c', plan.clients, ...command], { env: runEnv })
            : execFileSync(command[0], command.slice(1), { env: runEnv });
          const result = { ...JSON.parse(out.toString()), client, transport };
          load.push(result);
          console.error(`  ${client} ${transport} @ ${inFlight}: ${fmt(result.cpuUsPerExchange)} µs CPU/exchange`
            + `${result.failed ? `, ${result.failed} failed (${result.firstError})` : ''}`);
        }
      }
    }
  } finally {
    for (const { child } of Object.values(emulators)) child.disconnect();
    if (certificates) fs.rmSync(certificates.dir, { recursive: true, force: true });
  }

  const microInput = JSON.stringify({ ...setup, reply });
  const micro = [
    { implementation: 'civic-sip-native (Rust core)', ...JSON.parse(execFileSync(path.join(targetDir, 'release', 'examples', 'micro'), { input: microInput }).toString()) },
    ...execFileSync(process.execPath, [path.join(__dirname, 'micro.js')], { env: { ...process.env, BENCH_MICRO: microInput } })
      .toString().trim().split('\n').map((line) => JSON.parse(line)),
  ];

  const results = { date: new Date().toISOString(), machine: machine(), loadAverage: os.loadavg(), cpuPlan: plan, secondsPerRun: SECONDS, baseline: BASELINE, load, micro, binaries: binaries() };
  fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);

  console.log(`\nMachine: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, ${results.machine.node}`);
  console.log(plan.pinned ? `Emulator pinned to CPU ${plan.emulator}, clients to CPU ${plan.clients}.` : 'Nothing pinned.');
  console.log(`Load average at the end: ${results.loadAverage.map((l) => fmt(l, 2)).join(', ')} (other work on the machine skews the absolute figures).`);
  if (BASELINE) console.log(`Baseline: ${BASELINE}`);
  console.log('\n| client | transport | in flight | CPU µs/exchange | context switches/exchange | exchanges/s | loop delay p99 ms | loop delay max ms | peak RSS MB | failed |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of load) {
    console.log(`| ${r.client} | ${r.transport} | ${r.inFlight} | ${fmt(r.cpuUsPerExchange)} | ${fmt(r.contextSwitchesPerExchange, 1)} | ${fmt(r.exchangesPerSecond)} | ${fmt(r.loopDelayP99Ms, 1)} | ${fmt(r.loopDelayMaxMs, 1)} | ${fmt(r.peakRssMB)} | ${r.failed} |`);
  }
  console.log(`\n| transport | in flight | CPU: civic-sip-api / native | CPU: node:crypto / native | throughput: native / node:crypto |${BASELINE ? ' CPU: native / baseline |' : ''}`);
  console.log(`| --- | ---: | ---: | ---: | ---: |${BASELINE ? ' ---: |' : ''}`);
  for (const transport of TRANSPORTS) {
    for (const inFlight of IN_FLIGHT) {
      const at = (c) => load.find((r) => r.client === c && r.transport === transport && r.inFlight === inFlight);
      const [n, p, c, b] = ['civic-sip-native', 'node:crypto', 'civic-sip-api', BASELINE_NAME].map(at);
      console.log(`| ${transport} | ${inFlight} | ${ratio(c.cpuUsPerExchange, n.cpuUsPerExchange)} | ${ratio(p.cpuUsPerExchange, n.cpuUsPerExchange)} | ${ratio(n.exchangesPerSecond, p.exchangesPerSecond)} |${b ? ` ${fmt(n.cpuUsPerExchange / b.cpuUsPerExchange, 2)} |` : ''}`);
    }
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
