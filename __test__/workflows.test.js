'use strict';

// The workflows: release.yml, which builds every binary on its own OS, tests each there on every
// Node line before it publishes, and ci.yml (`npm test` on pushes and pull requests). Linted with
// actionlint (with shellcheck for their `run:` scripts where shellcheck is installed); the release
// matrices checked against package.json `napi.targets` and scripts/node-lines.js; the publish
// step's `napi artifacts` run here on artifacts laid out as the workflow downloads them.
//
// actionlint (helpers/actionlint.js) is installed by scripts/install-test-tools.sh; without it the
// lint tests are skipped, except in CI (CI set), where .ci/run installs it and a missing one fails.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const yaml = require('js-yaml');
const { ACTIONLINT, actionlint: lint, actionlintReady } = require('./helpers/actionlint');
const { PLATFORMS, platformOf } = require('../scripts/platforms');
const { NODE_LINES } = require('../scripts/node-lines');

const root = path.resolve(__dirname, '..');
const workflows = path.join(root, '.github', 'workflows');
const release = fs.readFileSync(path.join(workflows, 'release.yml'), 'utf8');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

const actionlint = (...args) => lint(args, { cwd: root });
const skip = actionlintReady() || process.env.CI ? false : `${ACTIONLINT} is not installed (scripts/install-test-tools.sh)`;

test('actionlint passes every workflow', { skip }, (t) => {
  const files = fs.readdirSync(workflows).filter((f) => f.endsWith('.yml')).map((f) => path.join('.github', 'workflows', f));
  assert.ok(files.includes(path.join('.github', 'workflows', 'release.yml')));
  const shellcheck = spawnSync('shellcheck', ['--version']).status === 0;
  // actionlint checks the run: scripts only with shellcheck; CI installs it, so there it must be on.
  if (process.env.CI) assert.ok(shellcheck, 'shellcheck is not installed (scripts/install-test-tools.sh)');
  t.diagnostic(`${actionlint('--version').stdout.split('\n')[0]}; shellcheck ${shellcheck ? 'on' : 'not installed'}`);
  const result = actionlint(...files);
  assert.equal(result.stdout + result.stderr, '');
  assert.equal(result.status, 0);
});

test('the lint can fail: a misspelt input and an undefined matrix key are reported', { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-workflow-'));
  try {
    const broken = release
      .replace('if-no-files-found: error', 'if-no-file-found: error')
      .replace('${{ matrix.settings.target }}', '${{ matrix.setting.target }}');
    assert.notEqual(broken, release);
    fs.writeFileSync(path.join(dir, 'release.yml'), broken);
    const result = lint([path.join(dir, 'release.yml')], { cwd: dir });
    assert.equal(result.status, 1);
    assert.match(result.stdout, /input "if-no-file-found" is not defined in action "actions\/upload-artifact@v\d+"/);
    assert.match(result.stdout, /property "setting" is not defined in object type/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const workflow = yaml.load(release);
const steps = (job) => workflow.jobs[job].steps.map((step) => step.run ?? '').join('\n');
const settingsOf = (job) => workflow.jobs[job].strategy.matrix.settings;

test('the workflow builds every target of package.json: macOS and Windows natively, Linux with build:platforms', () => {
  const native = settingsOf('build');
  const nonLinux = manifest.napi.targets.filter((t) => !t.includes('-linux-')).sort();
  assert.deepEqual(native.map((s) => s.target).sort(), nonLinux);
  for (const { target, platform, host } of native) {
    assert.equal(platform, platformOf(target), target);
    assert.match(host, PLATFORMS[platform].os === 'darwin' ? /^macos-/ : /^windows-/, target);
  }
  // Apple silicon on an arm64 runner, Intel on an Intel one: each built on its own CPU.
  assert.equal(native.find((s) => s.target === 'x86_64-apple-darwin').host, 'macos-15-intel');
  assert.equal(native.find((s) => s.target === 'aarch64-apple-darwin').host, 'macos-latest');
  // The deployment targets are scripts/platforms.js's, through npm run build: none set here.
  assert.doesNotMatch(release, /MACOSX_DEPLOYMENT_TARGET/);
  assert.match(steps('build'), /node --test __test__\/macos\.test\.js/);
  assert.match(steps('build-linux'), /^npm run build:platforms -- linux$/m);
  assert.match(release, /run: node --test __test__\/artifacts\.test\.js/);
  assert.match(release, /npx napi artifacts --output-dir artifacts/);
  assert.match(release, /npx napi pre-publish -t npm --no-gh-release/);
  assert.match(release, /npm publish --access public --provenance/);
  assert.match(release, /id-token: write/);
  assert.match(release, /if: startsWith\(github\.ref, 'refs\/tags\/v'\)/);
  assert.equal(manifest.scripts['build:platforms'], 'node scripts/build-platforms.js');
});

test('each build is tested on its own OS on every Node line the README promises before anything is published', () => {
  const lines = NODE_LINES.map((v) => v.split('.')[0]);
  // The README's promise and the lines test:all runs on locally are the same list.
  assert.match(fs.readFileSync(path.join(root, 'README.md'), 'utf8'), new RegExp(`\\| Node ${lines.slice(0, -1).join(', ')}, ${lines.at(-1)} \\|`));
  const nativeTests = workflow.jobs['test-macos-windows'];
  assert.equal(nativeTests.needs, 'build');
  assert.deepEqual(nativeTests.strategy.matrix.node, lines);
  assert.deepEqual(nativeTests.strategy.matrix.settings.map((s) => s.target).sort(), settingsOf('build').map((s) => s.target).sort());
  for (const { host, target } of nativeTests.strategy.matrix.settings) {
    // macOS x64 on an Intel runner, arm64 on an Apple silicon one, Windows on Windows.
    assert.equal(host, { 'x86_64-apple-darwin': 'macos-15-intel', 'aarch64-apple-darwin': 'macos-latest', 'x86_64-pc-windows-msvc': 'windows-latest' }[target], target);
  }
  assert.ok(nativeTests.steps.some((s) => s.uses?.startsWith('actions/download-artifact@') && s.with.name === 'bindings-${{ matrix.settings.target }}'));
  assert.ok(nativeTests.steps.some((s) => s.uses?.startsWith('actions/setup-node@') && s.with['node-version'] === '${{ matrix.node }}'));

  const linuxTests = workflow.jobs['test-linux'];
  assert.equal(linuxTests.needs, 'build-linux');
  assert.deepEqual(linuxTests.strategy.matrix.node, lines);
  const linux = manifest.napi.targets.filter((t) => t.includes('-linux-')).sort();
  assert.deepEqual(linuxTests.strategy.matrix.settings.map((s) => s.target).sort(), linux);
  for (const { target, platform, docker, image } of linuxTests.strategy.matrix.settings) {
    const p = PLATFORMS[platformOf(target)];
    assert.equal(platform, platformOf(target));
    assert.equal(docker, `linux/${p.arch === 'x64' ? 'amd64' : 'arm64'}`, target);
    // Node's own images: Debian (glibc) for the gnu builds, Alpine (musl) for the musl ones.
    assert.equal(image, p.abi === 'musl' ? 'alpine' : 'slim', target);
  }
  assert.match(steps('test-linux'), /docker run --rm --platform \$\{\{ matrix\.settings\.docker \}\}[\s\S]*node:\$\{\{ matrix\.node \}\}-\$\{\{ matrix\.settings\.image \}\}/);

  // The suites each job runs: files that exist, the exchange, abort and timeouts among them, one
  // file a run (Node 18's runner has no --test-concurrency).
  const suites = workflow.env.SUITES.trim().split(/\s+/);
  for (const suite of suites) assert.ok(fs.existsSync(path.join(root, '__test__', suite)), suite);
  for (const suite of ['exchange.test.js', 'retries-abort.test.js', 'esm.test.mjs']) assert.ok(suites.includes(suite), suite);
  assert.match(steps('test-macos-windows'), /for suite in \$SUITES napi\.test\.js; do node --test "__test__\/\$suite"/);
  assert.match(steps('test-linux'), /-e SUITES[\s\S]*for suite in \$SUITES; do node --test "__test__\/\$suite"/);
  assert.doesNotMatch(steps('test-macos-windows') + steps('test-linux'), /--test-concurrency/);

  // Every test job, and only test jobs, stand between the builds and the publish.
  assert.deepEqual([...workflow.jobs.publish.needs].sort(), ['test-linux', 'test-macos-windows']);
});

test('the CI workflow runs npm test on every push and pull request', () => {
  const ci = yaml.load(fs.readFileSync(path.join(workflows, 'ci.yml'), 'utf8'));
  assert.deepEqual(Object.keys(ci.on).sort(), ['pull_request', 'push']);
  assert.equal(ci.on.push, null);
  assert.equal(ci.on.pull_request, null);
  const runs = ci.jobs.test.steps.map((s) => s.run).filter(Boolean);
  assert.ok(runs.includes('npm test'), runs.join('; '));
  assert.ok(runs.includes('npm ci --no-audit --no-fund'), runs.join('; '));
  // GitHub sets CI, so workflows.test.js needs actionlint there: installed at the pinned version.
  assert.ok(runs.some((r) => r.includes("require('./__test__/helpers/actionlint').ACTIONLINT")), runs.join('; '));
});

// The artifacts the release workflow uploads, one per job and matrix row: its name with the
// matrix expressions filled in, and the row it came from.
const expand = (text, settings) => text.replace(/\$\{\{ matrix\.settings\.(\w+) \}\}/g, (_, key) => {
  assert.ok(key in settings, `matrix.settings.${key} in ${text}`);
  return settings[key];
});
const uploads = Object.entries(workflow.jobs).flatMap(([job, { steps: jobSteps, strategy }]) => jobSteps
  .filter((s) => s.uses?.startsWith('actions/upload-artifact@'))
  .flatMap((s) => (strategy?.matrix?.settings ?? [{}]).map((settings) => ({ job, name: expand(s.with.name, settings), settings }))));

test('every artifact a job downloads is one a job it needs uploads; publish takes them all', () => {
  assert.equal(new Set(uploads.map((u) => u.name)).size, uploads.length, uploads.map((u) => u.name).join());
  for (const [job, { steps: jobSteps, strategy, needs }] of Object.entries(workflow.jobs)) {
    const needed = [needs ?? []].flat();
    for (const step of jobSteps.filter((s) => s.uses?.startsWith('actions/download-artifact@'))) {
      if (step.with.pattern) {
        // A pattern (publish): it must take every upload, from jobs it needs or their needs.
        const re = new RegExp(`^${step.with.pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
        for (const u of uploads) assert.match(u.name, re, `${job} downloads ${step.with.pattern}`);
        continue;
      }
      for (const settings of strategy?.matrix?.settings ?? [{}]) {
        const name = expand(step.with.name, settings);
        const from = uploads.find((u) => u.name === name);
        assert.ok(from, `${job} downloads ${name}, which no job uploads`);
        assert.ok(needed.includes(from.job), `${job} downloads ${name} from ${from.job}, which it does not need`);
      }
    }
  }
});

test('napi artifacts moves the downloaded artifacts into npm/<platform>/ as the publish job expects', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-artifacts-'));
  try {
    fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
    const platforms = fs.readdirSync(path.join(root, 'npm'));
    assert.equal(platforms.length, manifest.napi.targets.length);
    for (const p of platforms) {
      fs.mkdirSync(path.join(dir, 'npm', p), { recursive: true });
      fs.copyFileSync(path.join(root, 'npm', p, 'package.json'), path.join(dir, 'npm', p, 'package.json'));
    }
    // As actions/download-artifact lays them out: a folder per upload named as the workflow names
    // it; bindings-linux keeps the npm/<platform>/ folders of its path below their common root.
    for (const upload of uploads) {
      const inUpload = upload.settings.platform ? [upload.settings.platform] : platforms.filter((p) => p.startsWith('linux-'));
      for (const p of inUpload) {
        const folder = path.join(dir, 'artifacts', upload.name, upload.settings.platform ? '' : p);
        fs.mkdirSync(folder, { recursive: true });
        fs.writeFileSync(path.join(folder, `civic-sip-native.${p}.node`), `addon for ${p}`);
      }
    }
    // The publish job's own step: its find/mv line as written, then napi artifacts (the local CLI).
    const move = workflow.jobs.publish.steps.find((s) => s.name === 'Move the addons into npm/<platform>/').run.split('\n');
    assert.match(move[0], /^find artifacts /);
    assert.equal(move[1], 'npx napi artifacts --output-dir artifacts');
    execFileSync('bash', ['-c', move[0]], { cwd: dir, stdio: 'pipe' });
    execFileSync(path.join(root, 'node_modules', '.bin', 'napi'), ['artifacts', '--cwd', dir, '--output-dir', 'artifacts'], { stdio: 'pipe' });
    for (const p of platforms) {
      assert.equal(fs.readFileSync(path.join(dir, 'npm', p, `civic-sip-native.${p}.node`), 'utf8'), `addon for ${p}`, p);
    }
    // napi's own validation of the platform packages before it publishes them (nothing is sent).
    execFileSync(path.join(root, 'node_modules', '.bin', 'napi'), ['pre-publish', '--cwd', dir, '-t', 'npm', '--no-gh-release', '--dry-run'], { stdio: 'pipe' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
