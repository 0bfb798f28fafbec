'use strict';

// The one build path (scripts/build.js) and the one platform table (scripts/platforms.js): the
// table names exactly the targets package.json ships, each as the loader, the npm/<platform>
// package and napi's tools name it; the script builds only the targets it knows, and the release
// workflow builds through it.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const { PLATFORMS, platformOf, hostPlatform, libraryName } = require('../scripts/platforms');
const { targetDir } = require('../scripts/build');

const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const NODE_ARCH = { x86_64: 'x64', aarch64: 'arm64' };

test('the platform table is package.json napi.targets, named as the loader and the npm packages name them', () => {
  assert.deepEqual(Object.values(PLATFORMS).map((p) => p.triple).sort(), [...manifest.napi.targets].sort());
  assert.deepEqual(Object.keys(PLATFORMS).sort(), fs.readdirSync(path.join(root, 'npm')).sort());
  const loader = fs.readFileSync(path.join(root, 'binding.js'), 'utf8');
  for (const [platform, { triple }] of Object.entries(PLATFORMS)) {
    assert.equal(platformOf(triple), platform);
    const file = `civic-sip-native.${platform}.node`;
    assert.ok(loader.includes(`require('./${file}')`), `binding.js never loads ${file}`);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'npm', platform, 'package.json'), 'utf8'));
    assert.equal(pkg.main, file);
    assert.deepEqual(pkg.cpu, [NODE_ARCH[triple.split('-')[0]]], platform);
    assert.deepEqual(pkg.os, [platform.split('-')[0]], platform);
    if (platform.startsWith('linux-')) assert.deepEqual(pkg.libc, [platform.endsWith('-musl') ? 'musl' : 'glibc'], platform);
  }
  assert.equal(libraryName('win32-x64-msvc'), 'civic_sip_native.dll');
  assert.equal(libraryName('darwin-arm64'), 'libcivic_sip_native.dylib');
  assert.equal(libraryName('linux-arm64-musl'), 'libcivic_sip_native.so');
  // This machine's platform is one of them, as the loader would pick it.
  assert.ok(Object.keys(PLATFORMS).includes(hostPlatform()), hostPlatform());
});

test('the build script refuses a target it does not ship, and a flag it does not know, before building', () => {
  const run = (...args) => spawnSync(process.execPath, [path.join('scripts', 'build.js'), ...args], { cwd: root, encoding: 'utf8' });
  const unknown = run('--target', 'riscv64gc-unknown-linux-gnu');
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stderr, `unknown target riscv64gc-unknown-linux-gnu; one of ${Object.values(PLATFORMS).map((p) => p.triple).join(', ')}\n`);
  const flag = run('--debug');
  assert.equal(flag.status, 1);
  assert.equal(flag.stderr, 'usage: node scripts/build.js [--target <rust target>] (got --debug)\n');
  const bare = run('--target');
  assert.equal(bare.status, 1);
  assert.match(bare.stderr, /^usage: /);
});

test('the build script finds the library where cargo puts it, however the target directory is set', () => {
  const env = { ...process.env };
  delete env.CARGO_TARGET_DIR;
  delete env.CARGO_BUILD_TARGET_DIR;
  assert.equal(targetDir(env), path.join(root, 'target'));
  assert.equal(targetDir({ ...env, CARGO_TARGET_DIR: 'elsewhere/t' }), path.join(root, 'elsewhere', 't'));
  assert.equal(targetDir({ ...env, CARGO_TARGET_DIR: '/abs/t' }), '/abs/t');
  assert.equal(targetDir({ ...env, CARGO_BUILD_TARGET_DIR: '/build/t' }), '/build/t');
});

test('npm run build is the build script, the napi CLI only regenerates the loader and types, and the release workflow builds through the script', () => {
  assert.equal(manifest.scripts.build, 'node scripts/build.js');
  assert.match(manifest.scripts['build:bindings'], /^napi build .*--js binding\.js --dts binding\.d\.ts$/);
  const release = fs.readFileSync(path.join(root, '.github', 'workflows', 'release.yml'), 'utf8');
  assert.match(release, /run: npm run build -- --target \$\{\{ matrix\.settings\.target \}\}/);
  assert.doesNotMatch(release, /napi build/);
});
