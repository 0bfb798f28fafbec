'use strict';

// What the release publishes (.github/workflows/release.yml): the seven platform packages, each
// from npm/<platform>/ with its addon (`napi pre-publish` runs `npm publish` there), then the root
// package with them as optionalDependencies, all with provenance. npm refuses a provenance publish
// whose manifest has no `repository` (E422), so every manifest must name the same repository; then
// `npm publish --dry-run --provenance` must accept each package as staged here. The registry is a
// stand-in on 127.0.0.1 that records what npm asks it (a dry run looks the package up, so it can
// refuse a version that is already published) and never receives a publish.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const { ensureBuilt, platformSuffix } = require('../scripts/build');

const root = path.resolve(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const platforms = fs.readdirSync(path.join(root, 'npm')).sort();
const REPOSITORY = 'git+https://github.com/civic-sip-native/civic-sip-native.git';

let work;
let registry;
let published = new Set(); // names whose packument lists the version being published
const requests = [];

before(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-publish-'));
  // No user configuration (tokens, another registry) reaches the dry runs.
  fs.writeFileSync(path.join(work, 'npmrc'), '');
  registry = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
    const name = decodeURIComponent(req.url.slice(1));
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && published.has(name)) {
      const version = { name, version: manifest.version, dist: { tarball: `http://127.0.0.1/${name}.tgz`, shasum: '0'.repeat(40) } };
      res.end(JSON.stringify({ name, 'dist-tags': { latest: manifest.version }, versions: { [manifest.version]: version } }));
      return;
    }
    res.statusCode = 404;
    res.end('{"error":"Not found"}');
  });
  await new Promise((resolve) => registry.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  await new Promise((resolve) => registry.close(resolve));
  fs.rmSync(work, { recursive: true, force: true });
});

function dryRun(dir) {
  const url = `http://127.0.0.1:${registry.address().port}/`;
  return new Promise((resolve) => {
    execFile('npm', ['publish', '--dry-run', '--provenance', '--json', '--registry', url], {
      cwd: dir,
      env: { ...process.env, npm_config_userconfig: path.join(work, 'npmrc'), npm_config_cache: path.join(work, 'cache'), npm_config_update_notifier: 'false' },
    }, (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }));
  });
}

// As the release lays a platform package out: its manifest and its addon, the one built here or
// by `npm run build:platforms` where there is one, else a stand-in file of the same name (the
// binaries themselves are checked by artifacts.test.js and the release workflow's tests).
function stagePlatform(suffix) {
  const dir = path.join(work, suffix);
  fs.mkdirSync(dir);
  fs.copyFileSync(path.join(root, 'npm', suffix, 'package.json'), path.join(dir, 'package.json'));
  const name = `civic-sip-native.${suffix}.node`;
  const built = suffix === platformSuffix() ? ensureBuilt({ quiet: true }) : path.join(root, 'npm', suffix, name);
  if (fs.existsSync(built)) fs.copyFileSync(built, path.join(dir, name));
  else fs.writeFileSync(path.join(dir, name), `stand-in for the ${suffix} addon`);
  return dir;
}

// As `napi pre-publish` leaves the root: package.json with the platform packages as
// optionalDependencies at this version, and the files it lists.
function stageRoot() {
  const dir = path.join(work, 'root');
  for (const file of manifest.files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(dir, file));
  }
  const optionalDependencies = Object.fromEntries(platforms.map((p) => [`${manifest.name}-${p}`, manifest.version]));
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ ...manifest, optionalDependencies }, null, 2)}\n`);
  return dir;
}

test('the root and every platform package name the repository, homepage, bugs and public access on the npm registry', () => {
  const expected = (directory) => ({
    repository: { type: 'git', url: REPOSITORY, ...(directory ? { directory } : {}) },
    homepage: 'https://github.com/civic-sip-native/civic-sip-native#readme',
    bugs: { url: 'https://github.com/civic-sip-native/civic-sip-native/issues' },
    publishConfig: { registry: 'https://registry.npmjs.org/', access: 'public' },
  });
  const pick = (m) => ({ repository: m.repository, homepage: m.homepage, bugs: m.bugs, publishConfig: m.publishConfig });
  assert.deepEqual(pick(manifest), expected());
  assert.equal(platforms.length, manifest.napi.targets.length);
  for (const suffix of platforms) {
    const platform = JSON.parse(fs.readFileSync(path.join(root, 'npm', suffix, 'package.json'), 'utf8'));
    assert.deepEqual(pick(platform), expected(`npm/${suffix}`), suffix);
    assert.equal(platform.version, manifest.version, suffix);
    assert.equal(platform.license, manifest.license, suffix);
  }
});

for (const suffix of platforms) {
  test(`npm publish --dry-run --provenance accepts ${manifest.name}-${suffix} with its addon`, async () => {
    const name = `${manifest.name}-${suffix}`;
    const before = requests.length;
    const { code, stdout, stderr } = await dryRun(stagePlatform(suffix));
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout)[name];
    assert.equal(report.id, `${name}@${manifest.version}`);
    assert.deepEqual(report.files.map((f) => f.path).sort(), [`civic-sip-native.${suffix}.node`, 'package.json']);
    assert.match(stderr, new RegExp(`Publishing to http://127\\.0\\.0\\.1:${registry.address().port}/ with tag latest and public access \\(dry-run\\)`));
    // What reached the registry: the lookup of this package, never a publish, never a token.
    const seen = requests.slice(before);
    assert.ok(seen.length >= 1, 'the dry run did not look the package up');
    for (const r of seen) assert.deepEqual(r, { method: 'GET', url: `/${name}`, authorization: undefined });
  });
}

test('npm publish --dry-run --provenance accepts the root package with its optionalDependencies', async () => {
  const before = requests.length;
  const { code, stdout, stderr } = await dryRun(stageRoot());
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout)[manifest.name];
  assert.equal(report.id, `${manifest.name}@${manifest.version}`);
  assert.deepEqual(report.files.map((f) => f.path).sort(), [...manifest.files, 'package.json'].sort());
  const seen = requests.slice(before);
  assert.ok(seen.length >= 1, 'the dry run did not look the package up');
  for (const r of seen) assert.deepEqual(r, { method: 'GET', url: `/${manifest.name}`, authorization: undefined });
});

test('the dry run can fail: a version the registry already has is refused', async () => {
  published = new Set([manifest.name]);
  try {
    fs.rmSync(path.join(work, 'root'), { recursive: true, force: true });
    const { code, stderr } = await dryRun(stageRoot());
    assert.notEqual(code, 0);
    assert.match(stderr, new RegExp(`You cannot publish over the previously published versions: ${manifest.version.replace(/\./g, '\\.')}`));
  } finally {
    published = new Set();
  }
  assert.ok(requests.every((r) => r.method === 'GET'), 'something other than a lookup reached the registry');
});
