'use strict';

// The two macOS addons as published, built on this Linux machine by `npm run build:platforms`
// (which `npm run test:all` runs first) with the deployment targets the release workflow uses
// (scripts/platforms.js): each is read as macOS's loader would read it (helpers/macho.js) and must
// be a 64-bit dylib for its CPU, for macOS no older than its deployment target says, linking
// libSystem only, exporting the Node-API entry point alone, importing only libSystem's functions
// and Node-API functions of the version the binding declares (Cargo.toml's napiN), and within the
// 5 MB budget. Nothing here can load a Mach-O file: the release workflow runs them on macOS.
// The reader is checked against LLVM's (llvm-objdump, Debian's `llvm`), and the check is shown to
// fail on files with one thing wrong.
//
// Without the builds or llvm-objdump this is skipped, except in CI (CI set), where .ci/run
// installs the tools and builds them, and a missing one is a failure.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { addonPath } = require('../scripts/build-platforms');
const { PLATFORMS, MACOS_DEPLOYMENT_TARGET } = require('../scripts/platforms');
const {
  readMachO, machoProblems, napiVersions, declaredNapiVersion,
} = require('./helpers/macho');

const root = path.resolve(__dirname, '..');
const MAX_BYTES = 5_000_000;
// Written here as well as in scripts/platforms.js, so that changing the deployment target is a
// change to the test too: x86_64 10.13 (napi-rs/package-template's), arm64 11.0 (macOS on Apple
// silicon began with 11; ring's C does not build for arm64 at 10.13).
const EXPECTED = {
  'darwin-x64': { cpu: 'x86_64', minos: '10.13' },
  'darwin-arm64': { cpu: 'arm64', minos: '11.0' },
};
const NAPI = declaredNapiVersion();

// The builds checked: both here; on a macOS runner of the release workflow, the one it built
// (CIVIC_MACOS_PLATFORMS), where Apple's objdump is LLVM's.
const CHECKED = process.env.CIVIC_MACOS_PLATFORMS ? process.env.CIVIC_MACOS_PLATFORMS.split(',') : Object.keys(EXPECTED);
const OBJDUMP = process.platform === 'darwin' ? 'objdump' : 'llvm-objdump';
const haveObjdump = spawnSync(OBJDUMP, ['--version']).status === 0;
const missingBuilds = CHECKED.filter((p) => !fs.existsSync(addonPath(p)));
const missing = missingBuilds.length ? `no ${missingBuilds.join(', ')} build (npm run build:platforms darwin)`
  : !haveObjdump ? `no ${OBJDUMP} (Debian's llvm)` : null;
const skip = missing && !process.env.CI ? `${missing}; scripts/install-test-tools.sh installs the tools` : false;

test('every macOS target of package.json has its check, with the deployment target the builds use', () => {
  const darwin = Object.keys(PLATFORMS).filter((p) => PLATFORMS[p].os === 'darwin').sort();
  assert.deepEqual(darwin, Object.keys(EXPECTED).sort());
  for (const [platform, want] of Object.entries(EXPECTED)) {
    assert.equal(PLATFORMS[platform].env.MACOSX_DEPLOYMENT_TARGET, want.minos, platform);
    assert.equal(MACOS_DEPLOYMENT_TARGET[PLATFORMS[platform].triple.split('-')[0]], want.minos, platform);
  }
});

test('the builds checked are macOS builds of package.json', () => {
  for (const platform of CHECKED) assert.ok(EXPECTED[platform], `${platform} is not a macOS platform`);
});

for (const [platform, want] of Object.entries(EXPECTED).filter(([p]) => CHECKED.includes(p))) {
  test(`${platform}: Mach-O type, CPU, minimum macOS, libraries, exports, imports, size`, { skip }, (t) => {
    assert.equal(missing, null, missing);
    const file = addonPath(platform);
    const bytes = fs.statSync(file).size;
    const info = readMachO(fs.readFileSync(file));
    const napi = napiVersions();
    const napiImports = info.imports.filter(({ name }) => /^_(napi|node_api)_/.test(name));
    const newest = Math.max(...napiImports.map(({ name }) => napi.get(name.slice(1)) ?? Infinity));
    t.diagnostic(`${bytes} bytes; ${info.filetype} ${info.cpu}, macOS ${info.minos} (SDK ${info.sdk}); links ${info.dylibs.join(', ')}; exports ${info.exports.join(', ')}; ${info.imports.length} imports, ${napiImports.length} of them Node-API (newest: version ${newest})`);
    assert.deepEqual(machoProblems(info, { ...want, napi: NAPI, bytes, maxBytes: MAX_BYTES }), []);
    assert.ok(napiImports.length > 20, `only ${napiImports.length} Node-API imports: not the addon?`);
    assert.ok(info.imports.some(({ name }) => name === '_pthread_create'), 'no _pthread_create import: not the addon?');

    // The reader agrees with LLVM's on what it checks.
    const objdump = (...args) => spawnSync(OBJDUMP, ['--macho', ...args, file], { encoding: 'utf8' }).stdout;
    const trie = objdump('--exports-trie').split('\n').map((l) => /^0x[0-9A-Fa-f]+\s+(\S+)/.exec(l)?.[1]).filter(Boolean);
    assert.deepEqual(trie, info.exports);
    const headers = objdump('--private-headers');
    assert.match(headers, new RegExp(`\\n\\s*(minos|version) ${want.minos.replace('.', '\\.')}\\n`));
    assert.match(headers, /filetype\s+[\s\S]*?\n\s*MH_MAGIC_64\s+(X86_64|ARM64)\s+\S+\s+\S+\s+DYLIB\s/);
    // The libraries loaded (LC_ID_DYLIB, the file's own name, is not one).
    const loaded = [...headers.matchAll(/cmd LC_(?:LOAD|LOAD_WEAK|REEXPORT|LAZY_LOAD|LOAD_UPWARD)_DYLIB\n\s+cmdsize \d+\n\s+name (\S+) \(offset \d+\)/g)].map((m) => m[1]);
    assert.deepEqual(loaded, info.dylibs);
  });
}

// ---- the check can fail --------------------------------------------------------------------

const uleb = (n) => {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return Buffer.from(out);
};

/** An export trie of `names`: a root with one edge per name, each to a terminal leaf. */
function trieOf(names) {
  const leaf = Buffer.from([2, 0, 0, 0]); // terminal size 2 (flags 0, address 0), no children
  const edges = (offsets) => Buffer.concat(names.map((name, i) => Buffer.concat([Buffer.from(`${name}\0`, 'latin1'), uleb(offsets[i])])));
  let rootLength = 2 + edges(names.map(() => 0)).length;
  for (;;) { // offsets grow the root's own length, which moves the leaves: settle them
    const offsets = names.map((_, i) => rootLength + i * leaf.length);
    const rootNode = Buffer.concat([Buffer.from([0, names.length]), edges(offsets)]);
    if (rootNode.length === rootLength) return Buffer.concat([rootNode, ...names.map(() => leaf)]);
    rootLength = rootNode.length;
  }
}

/**
 * A minimal Mach-O dylib saying what `spec` says: cpu, minos, dylibs, exports, imports as
 * { name, ordinal } (0xfe: dynamic lookup).
 */
function synthesize(spec) {
  const cmds = [];
  const cmd = (type, body) => {
    const size = Math.ceil((8 + body.length) / 8) * 8;
    const buf = Buffer.alloc(size);
    buf.writeUInt32LE(type, 0);
    buf.writeUInt32LE(size, 4);
    body.copy(buf, 8);
    cmds.push(buf);
    return buf;
  };
  const packed = (v) => { const [a, b = 0, c = 0] = v.split('.').map(Number); return (a << 16) | (b << 8) | c; };
  const build = Buffer.alloc(16);
  build.writeUInt32LE(1, 0); // PLATFORM_MACOS
  build.writeUInt32LE(packed(spec.minos), 4);
  build.writeUInt32LE(packed('15.0'), 8);
  cmd(0x32, build);
  for (const lib of spec.dylibs) {
    const body = Buffer.alloc(16 + lib.length + 1);
    body.writeUInt32LE(24, 0); // the name's offset from the command's start
    body.write(lib, 16, 'latin1');
    cmd(0xc, body);
  }
  const symtab = cmd(0x2, Buffer.alloc(16));
  const exportsCmd = cmd(0x80000033, Buffer.alloc(8));
  const header = Buffer.alloc(32);
  header.writeUInt32LE(0xfeedfacf, 0);
  header.writeUInt32LE({ x86_64: 0x01000007, arm64: 0x0100000c }[spec.cpu], 4);
  header.writeUInt32LE(6, 12); // MH_DYLIB
  header.writeUInt32LE(cmds.length, 16);
  header.writeUInt32LE(cmds.reduce((n, c) => n + c.length, 0), 20);
  let offset = 32 + cmds.reduce((n, c) => n + c.length, 0);
  const trie = trieOf(spec.exports);
  exportsCmd.writeUInt32LE(offset, 8);
  exportsCmd.writeUInt32LE(trie.length, 12);
  offset += trie.length;
  const strings = [Buffer.from([0])];
  let strSize = 1;
  const nlist = spec.imports.map(({ name, ordinal }) => {
    const entry = Buffer.alloc(16);
    entry.writeUInt32LE(strSize, 0);
    entry[4] = 0x01; // N_EXT, N_UNDF
    entry.writeUInt16LE(ordinal << 8, 6);
    strings.push(Buffer.from(`${name}\0`, 'latin1'));
    strSize += name.length + 1;
    return entry;
  });
  symtab.writeUInt32LE(offset, 8);
  symtab.writeUInt32LE(nlist.length, 12);
  symtab.writeUInt32LE(offset + nlist.length * 16, 16);
  symtab.writeUInt32LE(strSize, 20);
  return Buffer.concat([header, ...cmds, trie, ...nlist, ...strings]);
}

const GOOD = {
  cpu: 'arm64',
  minos: '11.0',
  dylibs: ['/usr/lib/libSystem.B.dylib'],
  exports: ['_napi_register_module_v1'],
  imports: [{ name: '_napi_create_object', ordinal: 0xfe }, { name: '_napi_type_tag_object', ordinal: 0xfe }, { name: '_pthread_create', ordinal: 1 }],
};
const problemsOf = (spec, extra = {}) => machoProblems(readMachO(synthesize({ ...GOOD, ...spec })), { cpu: 'arm64', minos: '11.0', napi: 8, ...extra });

test('the check can fail: each way a macOS build can be wrong is reported', () => {
  assert.deepEqual(problemsOf({}), []);
  assert.deepEqual(problemsOf({ minos: '10.13' }), ['minimum macOS 10.13, not 11.0']);
  assert.deepEqual(problemsOf({ cpu: 'x86_64' }), ['architecture x86_64, not arm64']);
  assert.deepEqual(problemsOf({ exports: ['_napi_register_module_v1', '_rust_eh_personality'] }), [
    'exports 2 symbols (_napi_register_module_v1, _rust_eh_personality), not _napi_register_module_v1 alone']);
  assert.deepEqual(problemsOf({ dylibs: [...GOOD.dylibs, '/System/Library/Frameworks/Security.framework/Versions/A/Security'] }), [
    'links /usr/lib/libSystem.B.dylib, /System/Library/Frameworks/Security.framework/Versions/A/Security, not libSystem only']);
  // -undefined dynamic_lookup links any name: Linux's only fail on a Mac.
  assert.deepEqual(problemsOf({ imports: [...GOOD.imports, { name: '___errno_location', ordinal: 0xfe }, { name: '_epoll_wait', ordinal: 0xfe }] }), [
    'imports ___errno_location, which only Linux has', 'imports _epoll_wait, which only Linux has']);
  assert.deepEqual(problemsOf({ imports: [...GOOD.imports, { name: '_CFRelease', ordinal: 0xfe }] }), [
    'imports _CFRelease from dynamic lookup, not from libSystem']);
  // node_api_symbol_for is Node-API 9's.
  assert.deepEqual(problemsOf({ imports: [...GOOD.imports, { name: '_node_api_symbol_for', ordinal: 0xfe }] }), [
    'imports _node_api_symbol_for (Node-API 9), newer than the declared Node-API 8']);
  assert.deepEqual(problemsOf({ imports: [...GOOD.imports, { name: '_napi_no_such_function', ordinal: 0xfe }] }), [
    'imports _napi_no_such_function, no Node-API function']);
  assert.deepEqual(problemsOf({}, { bytes: 5_000_001, maxBytes: MAX_BYTES }), ['5000001 bytes, over the 5000000 byte budget']);
  assert.throws(() => readMachO(Buffer.from('\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0', 'latin1')), /not a 64-bit little-endian Mach-O file \(magic 0x7f454c46\)/);
});

test('the check can fail: a real build with its minimum macOS patched to 10.12 is refused', { skip }, () => {
  assert.equal(missing, null, missing);
  const platform = CHECKED[0];
  const buf = Buffer.from(fs.readFileSync(addonPath(platform)));
  // The minimum OS of LC_BUILD_VERSION (minos) or LC_VERSION_MIN_MACOSX, found by walking the load
  // commands as the reader does.
  let at = 32;
  let patched = false;
  for (let i = 0; i < buf.readUInt32LE(16); i++) {
    if (buf.readUInt32LE(at) === 0x32) {
      buf.writeUInt32LE((10 << 16) | (12 << 8), at + 12);
      patched = true;
    }
    if (buf.readUInt32LE(at) === 0x24) { // LC_VERSION_MIN_MACOSX (a deployment target before 10.14)
      buf.writeUInt32LE((10 << 16) | (12 << 8), at + 8);
      patched = true;
    }
    at += buf.readUInt32LE(at + 4);
  }
  assert.ok(patched, `no minimum-OS load command in the ${platform} build`);
  assert.deepEqual(machoProblems(readMachO(buf), { ...EXPECTED[platform], napi: NAPI }), [`minimum macOS 10.12, not ${EXPECTED[platform].minos}`]);
});

test('the Node-API versions come from node-api-headers: napi_type_tag_object is 8, node_api_symbol_for 9', () => {
  const napi = napiVersions();
  assert.equal(napi.get('napi_create_object'), 1);
  assert.equal(napi.get('napi_type_tag_object'), 8);
  assert.equal(napi.get('node_api_symbol_for'), 9);
  assert.equal(NAPI, 8);
  assert.ok(fs.existsSync(path.join(root, 'node_modules', 'node-api-headers', 'package.json')));
});
