'use strict';

// Size against CPU per exchange for release profile variants (lto, codegen-units, opt-level,
// strip), to choose Cargo.toml's release profile. `panic = "abort"` is never tried: a panic must
// stay catchable (it becomes ERR_CIVIC_INTERNAL, not a crash).
//
//   node benchmark/profiles.js build    builds each variant (CARGO_PROFILE_RELEASE_* overrides,
//                                       one target dir each under target/profiles/), unstripped
//   node benchmark/profiles.js bench    sizes (as built, strip=debuginfo, strip=symbols) and CPU
//                                       per exchange of the native client at 16 in flight, the
//                                       variants interleaved, ROUNDS rounds; prints medians
//
// Each variant is built without stripping and stripped afterwards with `strip`, which is what
// cargo's strip = "debuginfo" / "symbols" do at link time; stripping does not change the code, so
// CPU is measured once per variant, on the stripped file.

const { execFileSync, fork } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 16);

const VARIANTS = {
  'fat-1-3': { lto: 'fat', cgu: 1, opt: '3' },
  'fat-1-s': { lto: 'fat', cgu: 1, opt: 's' },
  'fat-1-z': { lto: 'fat', cgu: 1, opt: 'z' },
  'fat-16-3': { lto: 'fat', cgu: 16, opt: '3' },
  'thin-16-3': { lto: 'thin', cgu: 16, opt: '3' },
  'off-16-3': { lto: 'off', cgu: 16, opt: '3' },
};
const only = process.env.VARIANTS ? process.env.VARIANTS.split(',') : Object.keys(VARIANTS);

const dirOf = (name) => path.join(root, 'target', 'profiles', name);
const libOf = (name) => path.join(dirOf(name), 'release', 'libcivic_sip_native.so');

function build() {
  for (const name of only) {
    const v = VARIANTS[name];
    console.error(`building ${name}`);
    execFileSync('cargo', ['build', '--release', '--lib', '--quiet', '--target-dir', dirOf(name)], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env,
        CARGO_PROFILE_RELEASE_LTO: v.lto,
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS: String(v.cgu),
        CARGO_PROFILE_RELEASE_OPT_LEVEL: v.opt,
        CARGO_PROFILE_RELEASE_STRIP: 'none',
      },
    });
  }
}

function stripped(name, how) {
  const out = path.join(dirOf(name), `civic-sip-native.${how}.node`);
  execFileSync('strip', [`--strip-${how}`, '-o', out, libOf(name)]);
  return out;
}

function startEmulator() {
  const child = fork(path.join(__dirname, 'emulator-process.js'));
  return new Promise((resolve, reject) => {
    child.once('message', (setup) => resolve({ child, setup }));
    child.once('error', reject);
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function bench() {
  const rows = only.map((name) => ({
    name,
    ...VARIANTS[name],
    unstripped: fs.statSync(libOf(name)).size,
    debuginfo: fs.statSync(stripped(name, 'debug')).size,
    symbols: fs.statSync(stripped(name, 'all')).size,
    addon: path.join(dirOf(name), 'civic-sip-native.all.node'),
    cpu: [],
  }));
  const { child, setup } = await startEmulator();
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      // Interleaved, in a rotating order: a burst of load from elsewhere on the machine hits all
      // variants alike instead of one.
      const order = rows.map((_, i) => rows[(i + round) % rows.length]);
      for (const row of order) {
        const out = execFileSync(process.execPath, [path.join(__dirname, 'load.js'), 'civic-sip-native', String(IN_FLIGHT), String(SECONDS)], {
          env: { ...process.env, BENCH_CONFIG: JSON.stringify(setup), NAPI_RS_NATIVE_LIBRARY_PATH: row.addon },
        });
        const r = JSON.parse(out.toString());
        if (r.failed) throw new Error(`${row.name}: ${r.failed} failed: ${r.firstError}`);
        row.cpu.push(r.cpuUsPerExchange);
        console.error(`round ${round + 1} ${row.name}: ${r.cpuUsPerExchange.toFixed(0)} µs`);
      }
    }
  } finally {
    child.disconnect();
  }
  const fastest = Math.min(...rows.map((r) => median(r.cpu)));
  const mb = (n) => (n / 1e6).toFixed(2);
  console.log(`\n${ROUNDS} rounds of ${SECONDS} s at ${IN_FLIGHT} in flight, medians; sizes in MB (10^6 bytes)\n`);
  console.log('| lto | codegen-units | opt-level | strip none | strip debuginfo | strip symbols | CPU µs/exchange (median) | vs fastest | all runs |');
  console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of rows) {
    const m = median(r.cpu);
    console.log(`| ${r.lto} | ${r.cgu} | ${r.opt} | ${mb(r.unstripped)} | ${mb(r.debuginfo)} | ${mb(r.symbols)} | ${m.toFixed(0)} | +${((m / fastest - 1) * 100).toFixed(1)}% | ${r.cpu.map((c) => c.toFixed(0)).join(' ')} |`);
  }
  fs.writeFileSync(path.join(root, 'target', 'profiles', 'results.json'), `${JSON.stringify(rows, null, 2)}\n`);
}

const phase = process.argv[2];
if (phase === 'build') build();
else if (phase === 'bench') bench().catch((error) => { console.error(error); process.exitCode = 1; });
else console.error('usage: node benchmark/profiles.js build|bench');
