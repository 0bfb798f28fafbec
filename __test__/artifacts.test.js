'use strict';

// The four Linux addons as published (npm/<platform>/, built by `npm run build:platforms`, which
// `npm run test:all` runs first): each is a shared object for its CPU, needs only the C runtime of its
// libc, asks glibc for no symbol version newer than 2.17 (so it loads on CentOS 7 / RHEL 7 era
// systems and everything since), and exports the Node-API module entry point. Read with readelf.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { PLATFORMS, addonPath } = require('../scripts/build-platforms');

const EXPECTED = {
  'linux-x64-gnu': {
    machine: 'Advanced Micro Devices X86-64',
    needed: ['ld-linux-x86-64.so.2', 'libc.so.6', 'libdl.so.2', 'libgcc_s.so.1', 'libm.so.6', 'libpthread.so.0'],
    glibc: '2.17',
  },
  'linux-arm64-gnu': {
    machine: 'AArch64',
    needed: ['ld-linux-aarch64.so.1', 'libc.so.6', 'libdl.so.2', 'libgcc_s.so.1', 'libm.so.6', 'libpthread.so.0'],
    glibc: '2.17',
  },
  // musl's libc.so is its whole C runtime, dynamic loader included.
  'linux-x64-musl': { machine: 'Advanced Micro Devices X86-64', needed: ['libc.so'], glibc: null },
  'linux-arm64-musl': { machine: 'AArch64', needed: ['libc.so'], glibc: null },
};

const readelf = (file, ...args) => execFileSync('readelf', ['-W', ...args, file]).toString();
const versionKey = (v) => v.split('.').map(Number).reduce((acc, n, i) => acc + n * 1000 ** (2 - i), 0);

/** What the dynamic linker is asked for: libraries (DT_NEEDED) and symbol versions (.gnu.version_r). */
function inspect(file) {
  const header = readelf(file, '-h');
  const dynamic = readelf(file, '-d');
  const versions = readelf(file, '-V');
  const symbols = readelf(file, '--dyn-syms');
  return {
    class: header.match(/Class:\s+(\S+)/)[1],
    type: header.match(/Type:\s+(\S+)/)[1],
    machine: header.match(/Machine:\s+(.+)/)[1].trim(),
    needed: [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]).sort(),
    glibcVersions: [...new Set([...versions.matchAll(/Name: GLIBC_([0-9.]+)/g)].map((m) => m[1]))].sort((a, b) => versionKey(a) - versionKey(b)),
    anyVersionNeeds: /Version needs section/.test(versions),
    // Functions and objects the library takes from others with no symbol version: the dynamic
    // linker binds those to any version, so one that glibc added after 2.17 (`gettid`, 2.30)
    // would leave the library unloadable on an older glibc however low the versions above are.
    unversionedImports: [...symbols.matchAll(/^\s*\d+:\s+0+\s+\d+\s+(?:FUNC|OBJECT|NOTYPE)\s+GLOBAL\s+DEFAULT\s+UND\s+([^@\s]+)$/gm)].map((m) => m[1]),
    exports: [...symbols.matchAll(/^\s*\d+:\s+[0-9a-f]+\s+\d+\s+FUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+(\S+)$/gm)].map((m) => m[1]),
  };
}

test('every Linux target of package.json has its check', () => {
  const { napi } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
  const linux = napi.targets.filter((t) => t.includes('-linux-')).sort();
  assert.deepEqual(Object.values(PLATFORMS).map((p) => p.triple).sort(), linux);
  assert.deepEqual(Object.keys(EXPECTED).sort(), Object.keys(PLATFORMS).sort());
});

for (const [platform, want] of Object.entries(EXPECTED)) {
  test(`${platform}: CPU, libraries, glibc symbol versions, entry point`, (t) => {
    const file = addonPath(platform);
    assert.ok(fs.existsSync(file), `${path.relative(process.cwd(), file)} is missing: run npm run build:platforms`);
    const elf = inspect(file);
    t.diagnostic(`${fs.statSync(file).size} bytes; needs ${elf.needed.join(', ')}; glibc versions ${elf.glibcVersions.join(', ') || 'none'}`);

    assert.equal(elf.class, 'ELF64');
    assert.equal(elf.type, 'DYN');
    assert.equal(elf.machine, want.machine);
    for (const lib of elf.needed) assert.ok(want.needed.includes(lib), `${platform} needs ${lib}, outside ${want.needed.join(', ')}`);
    assert.ok(elf.needed.includes(platform.endsWith('-gnu') ? 'libc.so.6' : 'libc.so'), `${platform} does not link its libc`);
    assert.ok(elf.exports.includes('napi_register_module_v1'), `${platform} does not export napi_register_module_v1`);

    if (want.glibc) {
      assert.ok(elf.glibcVersions.length > 0, 'no GLIBC_ version needs: not linked against glibc?');
      assert.equal(elf.glibcVersions.at(-1), want.glibc, `highest GLIBC_ version needed: ${elf.glibcVersions.at(-1)}`);
      // Only Node-API's functions, which Node itself provides, come unversioned.
      assert.deepEqual(elf.unversionedImports.filter((name) => !/^(napi|node_api)_/.test(name)), [], 'imports without a symbol version');
    } else {
      // musl has no symbol versioning: any version need would be a glibc (or libgcc) leftover.
      assert.deepEqual(elf.glibcVersions, []);
      assert.equal(elf.anyVersionNeeds, false, readelf(file, '-V'));
    }
  });
}

test('the check can fail: the native development build of this machine asks for a newer glibc', { skip: process.platform !== 'linux' || process.arch !== 'x64' }, () => {
  const native = path.join(__dirname, '..', 'target', 'release', 'libcivic_sip_native.so');
  require('../scripts/build').ensureBuilt({ quiet: true });
  const elf = inspect(native);
  assert.equal(elf.machine, 'Advanced Micro Devices X86-64');
  assert.ok(versionKey(elf.glibcVersions.at(-1)) > versionKey('2.17'), `native build needs only glibc ${elf.glibcVersions.at(-1)}`);
});

// The musl builds under musl's own dynamic linker (Debian's musl packages; no musl Node.js can be
// had here): a small C program, built for the target with zig, dlopens the addon with RTLD_NOW and
// looks up its entry point. That resolves every libc symbol the addon needs against musl and runs
// its initialisers. The Node-API functions are Node's to provide; the program exports stubs for
// those the addon imports (never called: it does not register the module).
const MUSL = {
  'linux-x64-musl': { zig: 'x86_64-linux-musl', loader: '/lib/ld-musl-x86_64.so.1', run: [] },
  'linux-arm64-musl': { zig: 'aarch64-linux-musl', loader: '/lib/ld-musl-aarch64.so.1', run: ['qemu-aarch64'] },
};

function canRun(cmd) {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

for (const [platform, musl] of Object.entries(MUSL)) {
  const missing = !fs.existsSync(musl.loader) ? `no ${musl.loader} (apt-get install musl${musl.run.length ? ':arm64' : ''})`
    : musl.run.length && !canRun(musl.run[0]) ? `no ${musl.run[0]}` : null;
  // CI=true turns a missing tool into a failure, except for a platform the environment names in
  // CIVIC_ARTIFACTS_ELSEWHERE ("platform: where it is loaded instead"), as the release workflow
  // does for the arm64 musl loader its runner's mirror lacks.
  const elsewhere = (process.env.CIVIC_ARTIFACTS_ELSEWHERE || '').split(';').map((s) => s.trim())
    .find((s) => s.startsWith(`${platform}:`));
  let skip = false;
  if (missing && !process.env.CI) skip = `${missing}; scripts/install-test-tools.sh installs it`;
  else if (missing && elsewhere) skip = `${missing}; ${elsewhere.slice(platform.length + 1).trim()}`;

  test(`${platform}: loads under musl's dynamic linker`, { skip }, (t) => {
    assert.equal(missing, null, missing);
    const addon = addonPath(platform);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-musl-'));
    try {
      const imports = readelf(addon, '--dyn-syms').split('\n').filter((l) => /\sUND\s/.test(l))
        .map((l) => l.trim().split(/\s+/).pop()).filter((name) => /^napi_/.test(name));
      assert.ok(imports.length > 10, imports.join(' '));
      fs.writeFileSync(path.join(dir, 'load.c'), `#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
${imports.map((name) => `void ${name}(void) { abort(); }`).join('\n')}
int main(int argc, char **argv) {
  void *addon = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!addon) { printf("dlopen failed: %s\\n", dlerror()); return 1; }
  printf("loaded; napi_register_module_v1 %s\\n", dlsym(addon, "napi_register_module_v1") ? "found" : "missing");
  return 0;
}
`);
      const exe = path.join(dir, 'load');
      execFileSync('python3', ['-m', 'ziglang', 'cc', '-target', musl.zig, '-dynamic', '-rdynamic', '-O1', '-o', exe, path.join(dir, 'load.c')], { stdio: 'pipe' });
      assert.match(readelf(exe, '-l'), new RegExp(`Requesting program interpreter: ${musl.loader}`));
      const command = [...musl.run, exe, addon];
      const out = execFileSync(command[0], command.slice(1), { encoding: 'utf8', timeout: 60_000 });
      t.diagnostic(`${musl.run.length ? `${musl.run[0]}: ` : ''}${out.trim()}`);
      assert.equal(out, 'loaded; napi_register_module_v1 found\n');
      // The check can fail: the glibc build of the same CPU does not load under musl.
      const glibc = spawnSync(command[0], [...command.slice(1, -1), addonPath(platform.replace('-musl', '-gnu'))], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(glibc.status, 1, glibc.stdout + glibc.stderr);
      // Refused for a glibc library musl lacks or, where the build needs none musl cannot stand in
      // for (the arm64 build without aws-lc needs no ld-linux), for a glibc-only symbol.
      assert.match(glibc.stdout, /^dlopen failed: (Error loading shared library (ld-linux-[a-z0-9-]+\.so\.[12]|lib[mc]\.so\.6): No such file or directory|Error relocating [^:]+-gnu\.node: __[a-z_0-9]+: symbol not found)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('linux-x64-gnu as published (glibc 2.17 build) exchanges a code on this Node', { skip: process.platform !== 'linux' || process.arch !== 'x64' }, async () => {
  const { startEmulator, DEFAULT_USER_DATA } = require('../emulator');
  const emu = await startEmulator();
  try {
    const script = `
      const client = require(${JSON.stringify(path.join(__dirname, '..'))}).newClient(JSON.parse(process.env.CONFIG));
      client.exchangeCode(process.env.AUTH_CODE).then((user) => console.log(JSON.stringify(user)));`;
    // Asynchronous: the emulator answers from this process.
    const { stdout } = await require('node:util').promisify(require('node:child_process').execFile)(process.execPath, ['-e', script], {
      env: {
        ...process.env,
        NAPI_RS_NATIVE_LIBRARY_PATH: addonPath('linux-x64-gnu'),
        CONFIG: JSON.stringify(emu.clientConfig()),
        AUTH_CODE: emu.mintAuthCode(DEFAULT_USER_DATA, { userId: 'x64-gnu-2.17' }),
      },
      timeout: 20_000,
    });
    assert.deepEqual(JSON.parse(stdout), { data: JSON.parse(JSON.stringify(DEFAULT_USER_DATA)), userId: 'x64-gnu-2.17' });
  } finally {
    await emu.close();
  }
});
