'use strict';

// A short run of each cargo-fuzz target (fuzz/) over its committed seeds, for `npm run test:all` and CI:
// a panic or an assertion in a target fails it. The long runs and their numbers are in
// fuzz/README.md. Needs cargo-fuzz (scripts/install-test-tools.sh installs it); cargo-fuzz needs
// nightly flags, which RUSTC_BOOTSTRAP=1 unlocks on the stable toolchain.
// FUZZ_SMOKE_SECONDS sets the time per target (default 25).

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const fuzzDir = path.resolve(__dirname, '..', 'fuzz');
const seconds = Number(process.env.FUZZ_SMOKE_SECONDS || 25);
const env = { ...process.env, RUSTC_BOOTSTRAP: '1' };
const run = (cmd, args, options = {}) => {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { cwd: fuzzDir, stdio: 'inherit', env, ...options });
};

function hasCargoFuzz() {
  try {
    execFileSync('cargo', ['fuzz', '--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// libFuzzer logs every new input: print its summary, or its last 120 lines when the target
// fails.
function smoke(target, corpus) {
  const args = ['fuzz', 'run', target, corpus, path.join('seeds', target), '--',
    '-dict=civic.dict', '-max_len=8192', `-max_total_time=${seconds}`, '-print_final_stats=1'];
  console.log(`\n$ cargo ${args.join(' ')}`);
  const result = spawnSync('cargo', args, { cwd: fuzzDir, env, encoding: 'utf8', maxBuffer: 1 << 30 });
  const lines = `${result.stdout}${result.stderr}`.split('\n');
  const failed = result.status !== 0;
  const keep = failed ? lines.slice(-120) : lines.filter((l) => /^(Done|stat::|#\d+\s+(INITED|DONE))/.test(l));
  console.log(keep.join('\n'));
  if (failed) {
    throw Object.assign(new Error(`target ${target} failed (exit ${result.status ?? result.signal})`), { status: 1 });
  }
}

function main() {
  if (!hasCargoFuzz()) throw Object.assign(new Error('cargo-fuzz is not installed: run scripts/install-test-tools.sh'), { status: 1 });
  run('cargo', ['fmt', '--check']);
  run('cargo', ['fuzz', 'build']);
  const targets = execFileSync('cargo', ['fuzz', 'list'], { cwd: fuzzDir, env, encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const target of targets) {
    // A scratch corpus: what the run finds is thrown away, the committed seeds stay as they are.
    const corpus = fs.mkdtempSync(path.join(os.tmpdir(), `fuzz-${target}-`));
    try {
      smoke(target, corpus);
    } finally {
      fs.rmSync(corpus, { recursive: true, force: true });
    }
  }
}

try {
  main();
} catch (error) {
  const hint = error.message.startsWith('target ') ? '\n(a crashing input is kept in fuzz/artifacts/<target>/)' : '';
  console.error(`\nfuzz smoke failed: ${error.message}${hint}`);
  process.exitCode = error.status || 1;
}
