'use strict';

// The release workflow (.github/workflows/release.yml), which builds what this machine cannot
// (macOS, Windows) and publishes: linted with actionlint (with shellcheck for its `run:` scripts
// where shellcheck is installed), checked to build every target package.json lists, and its
// publish step's `napi artifacts` run here on artifacts laid out as the workflow downloads them.
//
// actionlint (helpers/actionlint.js) is installed by scripts/install-test-tools.sh; without it the
// lint tests are skipped, except in CI (CI set), where .ci/run installs it and a missing one fails.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ACTIONLINT, actionlint: lint, actionlintReady } = require('./helpers/actionlint');

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

test('the workflow builds every target of package.json: macOS and Windows natively, Linux with build:platforms', () => {
  const matrixTargets = [...new Set([...release.matchAll(/^\s+target: ([a-z0-9_-]+)$/gm)].map((m) => m[1]))].sort();
  const nonLinux = manifest.napi.targets.filter((t) => !t.includes('-linux-')).sort();
  assert.deepEqual(matrixTargets, nonLinux);
  assert.match(release, /run: npm run build:platforms/);
  assert.match(release, /run: node --test __test__\/artifacts\.test\.js/);
  assert.match(release, /npx napi artifacts --output-dir artifacts/);
  assert.match(release, /npx napi pre-publish -t npm --no-gh-release/);
  assert.match(release, /npm publish --access public --provenance/);
  assert.match(release, /id-token: write/);
  assert.match(release, /if: startsWith\(github\.ref, 'refs\/tags\/v'\)/);
  assert.equal(manifest.scripts['build:platforms'], 'node scripts/build-platforms.js');
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
      // As actions/download-artifact lays them out: one folder per uploaded artifact.
      const folder = path.join(dir, 'artifacts', p.startsWith('linux-') ? 'bindings-linux' : `bindings-${p}`, p.startsWith('linux-') ? p : '');
      fs.mkdirSync(folder, { recursive: true });
      fs.writeFileSync(path.join(folder, `civic-sip-native.${p}.node`), `addon for ${p}`);
    }
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
