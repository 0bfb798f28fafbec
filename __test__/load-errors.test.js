'use strict';

// require('civic-sip-native') when the native addon cannot be loaded: the error names the real
// cause and its fix first, with Node's code for it; npm's optional-dependencies hint is left for
// an addon that is really missing. Each case is a child process of this Node (scripts/node-lines.js
// runs this suite on every Node line, so each line's permission model is the one checked).
//
// Run: node --test __test__/load-errors.test.js

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const addonName = fs.readdirSync(root).find((f) => /^civic-sip-native\..+\.node$/.test(f));

// Node's permission model: --experimental-permission on 20, --permission from 22.13 / 23.5; none on 18.
const permissionFlag = ['--permission', '--experimental-permission'].find((f) => process.allowedNodeEnvironmentFlags.has(f));

/** What `require(dir)` throws in a child Node started with `flags`: { code, message }, or 'loaded'. */
function requireIn(dir, flags = []) {
  const script = `try { require(${JSON.stringify(dir)}); console.log('"loaded"') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`;
  const out = execFileSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out.trim().split('\n').pop());
}

const NPM_HINT = 'Cannot find native binding. npm has a bug related to optional dependencies (https://github.com/npm/cli/issues/4828). Please try `npm i` again after removing both package-lock.json and node_modules directory.';

describe('loading the native addon', () => {
  let work;
  /** A copy of the package's JS beside `addon` (bytes) as its addon, or no addon at all. */
  const packageWith = (name, addon) => {
    const dir = path.join(work, name);
    fs.mkdirSync(dir);
    for (const f of ['index.js', 'binding.js', 'package.json']) fs.copyFileSync(path.join(root, f), path.join(dir, f));
    if (addon !== undefined) fs.writeFileSync(path.join(dir, addonName), addon);
    return dir;
  };

  before(() => {
    assert.ok(addonName, 'a built addon beside index.js (npm run build)');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-load-'));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  test('the permission model without --allow-addons: the flag to add, not npm\'s hint', { skip: permissionFlag ? false : `Node ${process.version} has no permission model` }, () => {
    const flags = [permissionFlag, `--allow-fs-read=${root}`];
    assert.deepEqual(requireIn(root, flags), {
      code: 'ERR_DLOPEN_DISABLED',
      message: `civic-sip-native cannot load its native addon: Node's permission model (${permissionFlag}) is on without --allow-addons. Start Node with --allow-addons as well (Node: Cannot load native addon because loading addons is disabled.)`,
    });
    assert.equal(requireIn(root, [...flags, '--allow-addons']), 'loaded');
  });

  test('a damaged addon: what the loader said, and to reinstall', () => {
    const dir = packageWith('damaged', Buffer.alloc(4096, 'not a shared object '));
    assert.deepEqual(requireIn(dir), {
      code: 'ERR_DLOPEN_FAILED',
      message: `civic-sip-native's native addon is installed but could not be loaded: ${path.join(dir, addonName)}: invalid ELF header. Reinstall the package on this machine (rm -rf node_modules && npm install) so that the build for ${process.platform}-${process.arch} is the one installed`,
    });
  });

  test('a build for another machine (an ELF file of another class): the loader\'s words, and to reinstall', () => {
    const elf32 = Buffer.alloc(64);
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]).copy(elf32); // ELFCLASS32, little-endian
    const dir = packageWith('foreign', elf32);
    const got = requireIn(dir);
    assert.equal(got.code, 'ERR_DLOPEN_FAILED');
    assert.match(got.message, new RegExp(`^civic-sip-native's native addon is installed but could not be loaded: ${path.join(dir, addonName).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .+\\. Reinstall the package`));
  });

  test('no addon at all: npm\'s optional-dependencies hint, as napi-rs words it', () => {
    const dir = packageWith('missing');
    assert.deepEqual(requireIn(dir), { message: NPM_HINT });
  });
});
