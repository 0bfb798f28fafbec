'use strict';

// What the package declares about the Node it runs on, against what the addon needs:
// - package.json `engines.node`, the same in every npm/<platform> package;
// - the Node-API version: the addon is built with napi-rs's `napi8` feature (Cargo.toml), so it
//   may call Node-API functions up to version 8; the functions the built addon really imports
//   (ELF undefined symbols, each looked up in this Node's own js_native_api.h / node_api.h) must
//   be no newer than that, and the oldest Node that `engines` admits must offer it;
// - this Node satisfies both, and loads the addon through the package's loader.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

// The Node-API version of the first release of each Node major that `engines` may name
// (Node's documentation, "Node-API version matrix").
const NAPI_OF_FIRST_RELEASE = { 18: 8, 20: 9, 22: 9, 24: 10 };

/** `>= 18` or `>=18.0.0` → [18, 0, 0]; anything else is not what this package declares. */
function minimumNode(range) {
  const m = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range);
  assert.ok(m, `engines.node ${JSON.stringify(range)} is not a plain lower bound`);
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

/** The napi feature napi-rs is built with: `napi8` → 8. */
function napiFeature() {
  const cargo = fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8');
  const line = cargo.split('\n').find((l) => /^napi\s*=/.test(l));
  const levels = [...line.matchAll(/"napi(\d+)"/g)].map((m) => Number(m[1]));
  assert.equal(levels.length, 1, `one napiN feature expected in: ${line}`);
  return levels[0];
}

/** Node-API function → the version that introduced it, read from a Node's headers. */
function napiVersionsFromHeaders(includeDir) {
  const versions = new Map();
  for (const header of ['js_native_api.h', 'node_api.h']) {
    const stack = [];
    let pending = null;
    for (const line of fs.readFileSync(path.join(includeDir, header), 'utf8').split('\n')) {
      const directive = /^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b(.*)$/.exec(line);
      if (directive) {
        const [, kind, rest] = directive;
        const version = /NAPI_VERSION\s*>=\s*(\d+)/.exec(rest);
        if (kind === 'endif') stack.pop();
        else if (kind === 'else' || kind === 'elif') stack[stack.length - 1] = { version: 0, experimental: false };
        else stack.push({ version: version ? Number(version[1]) : 0, experimental: kind === 'ifdef' && /NAPI_EXPERIMENTAL/.test(rest) });
        continue;
      }
      if (/\bNAPI_EXTERN\b/.test(line) && !/#\s*define/.test(line)) pending = '';
      if (pending !== null) {
        pending += ` ${line}`;
        const name = /(\w+)\s*\(/.exec(pending);
        if (name) {
          versions.set(name[1], stack.some((s) => s.experimental) ? Infinity : Math.max(1, ...stack.map((s) => s.version)));
          pending = null;
        }
      }
    }
  }
  return versions;
}

test('engines.node is declared once for the root and every platform package, and this Node meets it', () => {
  const range = manifest.engines.node;
  assert.equal(range, '>= 18');
  for (const dir of fs.readdirSync(path.join(root, 'npm'))) {
    const platform = JSON.parse(fs.readFileSync(path.join(root, 'npm', dir, 'package.json'), 'utf8'));
    assert.equal(platform.engines.node, range, `npm/${dir}`);
  }
  const [major] = minimumNode(range);
  const running = process.versions.node.split('.').map(Number);
  assert.ok(running[0] >= major, `Node ${process.version} is older than ${range}`);
});

test('the Node-API version the addon is built for is offered by every Node that engines admits, and by this one', (t) => {
  const feature = napiFeature();
  // 8 for napi_type_tag_object, which napi-rs uses to check that an argument is one of our classes.
  assert.equal(feature, 8);
  const [major] = minimumNode(manifest.engines.node);
  assert.ok(NAPI_OF_FIRST_RELEASE[major] >= feature, `Node ${major}.0.0 offers Node-API ${NAPI_OF_FIRST_RELEASE[major]}, the addon is built for ${feature}`);
  const running = Number(process.versions.napi);
  assert.ok(Number.isInteger(running), `process.versions.napi: ${process.versions.napi}`);
  assert.ok(running >= feature, `this Node offers Node-API ${running}, the addon is built for ${feature}`);
  t.diagnostic(`Node ${process.version}, Node-API ${running}; addon built for Node-API ${feature}`);

  // And the addon loads through the package's loader on this Node.
  const { newClient, codes } = require('..');
  assert.equal(typeof newClient({ appId: 'a', appSecret: 'b', prvKey: 'c' }).exchangeCode, 'function');
  assert.equal(codes.CONFIG, 'ERR_CIVIC_CONFIG');
});

const include = path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node');
// Off Linux, or without Node's headers on a developer's machine; in CI missing headers fail.
const elfSkip = process.platform !== 'linux' ? 'ELF symbols: Linux only'
  : !fs.existsSync(path.join(include, 'node_api.h')) && !process.env.CI ? `no Node headers at ${include}` : false;

test('the Node-API functions the built addon imports are all within its napi feature', { skip: elfSkip }, (t) => {
  const versions = napiVersionsFromHeaders(include);
  // The header parse itself: functions of known versions land where Node's docs put them.
  assert.equal(versions.get('napi_create_promise'), 1);
  assert.equal(versions.get('napi_create_threadsafe_function'), 4);
  assert.equal(versions.get('napi_get_all_property_names'), 6);
  assert.equal(versions.get('napi_detach_arraybuffer'), 7);
  assert.equal(versions.get('napi_add_async_cleanup_hook'), 8);

  const addon = require('../scripts/build').ensureBuilt({ quiet: true });
  const feature = napiFeature();
  const imports = execFileSync('readelf', ['-W', '--dyn-syms', addon]).toString()
    .split('\n').filter((l) => /\sUND\s/.test(l)).map((l) => l.trim().split(/\s+/).pop().replace(/@.*/, ''))
    .filter((name) => /^(napi|node_api)_/.test(name));
  assert.ok(imports.includes('napi_create_promise') && imports.includes('napi_create_threadsafe_function'), imports.join(' '));
  const needed = imports.map((name) => {
    assert.ok(versions.has(name), `${name} is not a Node-API function of Node ${process.version}`);
    return [name, versions.get(name)];
  });
  const highest = Math.max(...needed.map(([, v]) => v));
  t.diagnostic(`${imports.length} Node-API functions imported, the newest from Node-API ${highest}: ${needed.filter(([, v]) => v === highest).map(([n]) => n).join(', ')}`);
  assert.ok(highest <= feature, `imports Node-API ${highest} functions, built for ${feature}`);
  assert.ok(highest <= Number(process.versions.napi));
});

// ---- the prebuilt platform packages, as npm picks among them

/** What npm matches a Rust target triple with, and the file the loader asks for. */
function expectedManifest(triple) {
  const [arch, , system, abi] = triple.split('-');
  const cpu = { x86_64: 'x64', aarch64: 'arm64' }[arch];
  const os = { linux: 'linux', darwin: 'darwin', windows: 'win32' }[system];
  const suffix = [os, cpu, os === 'linux' ? abi : null, os === 'win32' ? abi : null].filter(Boolean).join('-');
  return {
    suffix,
    fields: {
      name: `${manifest.name}-${suffix}`,
      version: manifest.version,
      os: [os],
      cpu: [cpu],
      ...(os === 'linux' ? { libc: [abi === 'musl' ? 'musl' : 'glibc'] } : {}),
      main: `${manifest.napi.binaryName}.${suffix}.node`,
      files: [`${manifest.napi.binaryName}.${suffix}.node`],
      engines: manifest.engines,
      license: manifest.license,
    },
  };
}

test('one npm/<platform> package per napi target, each declaring the os, cpu, libc, main and files npm and the loader use', () => {
  const expected = manifest.napi.targets.map(expectedManifest);
  assert.deepEqual(expected.map((e) => e.suffix).sort(), fs.readdirSync(path.join(root, 'npm')).sort());
  assert.equal(expected.length, 7);
  const loader = fs.readFileSync(path.join(root, 'binding.js'), 'utf8');
  for (const { suffix, fields } of expected) {
    const declared = JSON.parse(fs.readFileSync(path.join(root, 'npm', suffix, 'package.json'), 'utf8'));
    const picked = Object.fromEntries(Object.keys(fields).map((k) => [k, declared[k]]));
    assert.deepEqual(picked, fields, suffix);
    // The loader asks for this package by name, and for the local file of the same name.
    assert.ok(loader.includes(`require('${fields.name}')`), `binding.js does not load ${fields.name}`);
    assert.ok(loader.includes(`'./${fields.main}'`) || loader.includes(`./${fields.main}`), `binding.js does not try ./${fields.main}`);
  }
  // The root package itself has no install script (nothing runs at npm install).
  assert.deepEqual(Object.keys(manifest.scripts ?? {}).filter((k) => /install/.test(k) && !/^example/.test(k)), []);
});

test('the release profile keeps panics catchable: no panic = "abort", in the profile or the environment', () => {
  const cargo = fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8');
  const profiles = cargo.split(/^\[/m).filter((section) => section.startsWith('profile'));
  assert.ok(profiles.some((section) => section.startsWith('profile.release]')), 'no [profile.release]');
  for (const section of profiles) assert.doesNotMatch(section, /^\s*panic\s*=\s*"abort"/m, section);
  assert.notEqual(process.env.CARGO_PROFILE_RELEASE_PANIC, 'abort');
  assert.ok(!fs.existsSync(path.join(root, '.cargo', 'config.toml')) || !/panic\s*=\s*"abort"|-C\s*panic=abort/.test(fs.readFileSync(path.join(root, '.cargo', 'config.toml'), 'utf8')));
});
