'use strict';

// `npm run build:platforms [-- <platform or os>...]`: every binary package.json ships, built on this
// Linux machine (all of them when no argument is given; `linux`, `darwin` or `win32` for one OS).
// All share one target directory, target/cross/, so build scripts and proc macros are built once.
//
// - linux-*: cargo-zigbuild into npm/<platform>/, as published. The glibc builds link against
//   glibc 2.17's symbol versions (zig's `.2.17` target suffix), so they load on CentOS 7 era
//   distributions; the musl builds link musl's libc dynamically (a cdylib cannot be a static
//   executable: crt-static off).
// - darwin-*: cargo-zigbuild (zig compiles ring's C for macOS) with the final link by LLVM's
//   ld64.lld (Debian's `lld`) instead of zig's own linker, which ignores rustc's
//   -exported_symbols_list and so exports every Rust symbol (6.2 to 6.4 MB instead of about 3).
//   libSystem comes from zig's text stubs (.tbd), rewritten for lld 14 (see macosSdk). Into
//   npm/<platform>/, with the deployment target of scripts/platforms.js, as the release workflow
//   builds them on macOS runners. Nothing here can run them; __test__/macos.test.js reads them.
// - win32-x64-msvc: the msvc target needs Microsoft's SDK, which cannot be had from the package
//   registries, so its stand-in x86_64-pc-windows-gnu is built with Debian's mingw-w64 into
//   target/cross/win32-x64-gnu/ under the msvc build's file name, for __test__/wine.test.js. It is
//   never put in npm/: the published one is the release workflow's msvc build.
//
// Needs ziglang and cargo-zigbuild from PyPI, the Rust targets, ld64.lld and mingw-w64:
// `scripts/install-test-tools.sh` installs them (`build` for the PyPI tools and Rust targets only).

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { replaceAddon } = require('./build');
const ALL = require('./platforms');

const root = path.resolve(__dirname, '..');
// Absolute, as cargo-zigbuild and napi resolve a relative one against their own working directory.
const targetDir = path.join(root, 'target', 'cross');

// The Linux rows of the one platform table: the ones artifacts.test.js and qemu.test.js check.
const PLATFORMS = Object.fromEntries(Object.entries(ALL.PLATFORMS).filter(([, p]) => p.os === 'linux'));
// Pinned: a new zig or cargo-zigbuild can change what the artifacts link against.
const PYPI_TOOLS = ['ziglang==0.17.1', 'cargo-zigbuild==0.24.0'];
const MINGW_GCC = 'x86_64-w64-mingw32-gcc';

/** The Rust target this machine builds for `platform`: the gnu stand-in for an msvc one. */
const buildTriple = (platform) => ALL.PLATFORMS[platform].triple.replace(/-windows-msvc$/, '-windows-gnu');

/** Where the build of `platform` goes: npm/<platform>/, except the Windows stand-in. */
function addonPath(platform) {
  const file = `civic-sip-native.${platform}.node`;
  if (ALL.PLATFORMS[platform]?.os === 'win32') return path.join(targetDir, platform.replace(/-msvc$/, '-gnu'), file);
  return path.join(root, 'npm', platform, file);
}

function quiet(cmd, args) {
  try {
    return execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return null;
  }
}

function run(cmd, args, env) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
}

/** ld64.lld on PATH, else Debian's /usr/bin/ld64.lld-<LLVM version> (the newest); null if none. */
function findLd64() {
  if (quiet('ld64.lld', ['--version']) !== null) return 'ld64.lld';
  const version = (f) => Number(f.split('-').pop());
  const candidates = fs.existsSync('/usr/bin') ? fs.readdirSync('/usr/bin').filter((f) => /^ld64\.lld-\d+$/.test(f)).sort((a, b) => version(a) - version(b)) : [];
  return candidates.length ? path.join('/usr/bin', candidates.at(-1)) : null;
}

/** `linux` → its platforms; a platform name → itself; anything else is refused. */
function select(names) {
  if (!names || names.length === 0) return Object.keys(ALL.PLATFORMS);
  return [...new Set(names.flatMap((name) => {
    if (ALL.PLATFORMS[name]) return [name];
    const ofOs = Object.keys(ALL.PLATFORMS).filter((p) => ALL.PLATFORMS[p].os === name);
    if (ofOs.length) return ofOs;
    throw new Error(`unknown platform ${name}; one of ${Object.keys(ALL.PLATFORMS).join(', ')} (or linux, darwin, win32)`);
  }))];
}

// What the build of `platforms` needs and lacks: the pinned PyPI tools not installed at their
// pinned versions, the Rust targets rustup has not installed, and the Debian tools.
function missingTools(platforms = Object.keys(ALL.PLATFORMS)) {
  const zigbuild = (quiet('cargo-zigbuild', ['--version']) ?? '').trim();
  const zig = (quiet('python3', ['-m', 'ziglang', 'version']) ?? '').trim();
  const needsZig = platforms.some((p) => ALL.PLATFORMS[p].os !== 'win32');
  const pypi = !needsZig ? [] : PYPI_TOOLS.filter((tool) => (tool.startsWith('ziglang==')
    ? tool !== `ziglang==${zig}`
    : tool !== `cargo-zigbuild==${zigbuild.split(' ')[1]}`));
  const installed = (quiet('rustup', ['target', 'list', '--installed']) ?? '').split('\n');
  const targets = platforms.map(buildTriple).filter((t) => !installed.includes(t));
  const apt = [];
  if (platforms.some((p) => ALL.PLATFORMS[p].os === 'darwin') && !findLd64()) apt.push('lld');
  if (platforms.some((p) => ALL.PLATFORMS[p].os === 'win32') && quiet(MINGW_GCC, ['--version']) === null) apt.push('gcc-mingw-w64-x86-64');
  return { pypi, targets, apt };
}

// Installs nothing: scripts/install-test-tools.sh does.
function checkTools(platforms) {
  const { pypi, targets, apt } = missingTools(platforms);
  const missing = [...pypi, ...targets.map((t) => `rustup target ${t}`), ...apt.map((a) => `Debian's ${a}`)];
  if (missing.length) {
    throw new Error(`missing ${missing.join(', ')}: run scripts/install-test-tools.sh`);
  }
}

/**
 * A macOS "SDK" of text stubs for ld64.lld: usr/lib/libSystem.tbd (and libc, libm, which rustc
 * also names and which are libSystem on macOS) from zig's stub of macOS's libSystem. lld 14 does
 * not know the `arm64e.x1` architecture zig's file lists, and would take none of its arm64e entries
 * for an arm64 link: those lists name arm64 instead. Only the stub changes; what a symbol binds to
 * at run time (the install name /usr/lib/libSystem.B.dylib) is the file's own.
 */
function macosSdk() {
  // `zig env` prints a ZON record (JSON before zig 0.15): the one field needed, either way.
  const zigEnv = execFileSync('python3', ['-m', 'ziglang', 'env'], { encoding: 'utf8' });
  const libDir = /"?\.?lib_dir"?\s*[=:]\s*"([^"]+)"/.exec(zigEnv)[1];
  const tbd = path.join(libDir, 'libc', 'darwin', 'libSystem.tbd');
  const sdk = path.join(targetDir, 'macos-sdk');
  const lib = path.join(sdk, 'usr', 'lib');
  fs.mkdirSync(lib, { recursive: true });
  const rewritten = fs.readFileSync(tbd, 'utf8').replace(/\[([^\]]*)\]/g, (list, inner) => {
    if (!/-mac(os|catalyst)\b/.test(inner)) return list;
    const archs = inner.split(',').map((s) => s.trim()).filter((s) => s && !s.startsWith('arm64e.'))
      .map((s) => s.replace(/^arm64e-/, 'arm64-'));
    return `[ ${[...new Set(archs)].join(', ')} ]`;
  });
  for (const name of ['libSystem.tbd', 'libc.tbd', 'libm.tbd']) fs.writeFileSync(path.join(lib, name), rewritten);
  // The libc crate names libiconv (its iconv bindings), which zig does not ship: a stub of macOS's
  // with those three functions, so that the link finds it; build.rs's -dead_strip_dylibs then
  // leaves it out, as nothing calls them (macos.test.js fails if one ever does).
  fs.writeFileSync(path.join(lib, 'libiconv.tbd'), `--- !tapi-tbd
tbd-version:     4
targets:         [ x86_64-macos, arm64-macos ]
install-name:    '/usr/lib/libiconv.2.dylib'
current-version: 7
compatibility-version: 7
exports:
  - targets:         [ x86_64-macos, arm64-macos ]
    symbols:         [ _iconv, _iconv_close, _iconv_open ]
...
`);
  return sdk;
}

const envKey = (triple) => `CARGO_TARGET_${triple.toUpperCase().replace(/-/g, '_')}`;

function buildPlatforms(names) {
  const platforms = select(names);
  checkTools(platforms);
  const of = (os) => platforms.filter((p) => ALL.PLATFORMS[p].os === os);
  const cargo = (label, args, env) => {
    const t0 = Date.now();
    run('cargo', [...args, '--release', '--lib', '--target-dir', targetDir], env);
    console.log(`${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  };
  const linux = of('linux');
  if (linux.length) {
    const env = {};
    for (const p of linux.filter((q) => ALL.PLATFORMS[q].abi === 'musl')) env[`${envKey(ALL.PLATFORMS[p].triple)}_RUSTFLAGS`] = '-C target-feature=-crt-static';
    // One cargo run for all the Linux targets: their build scripts and proc macros are built once.
    cargo(linux.join(', '), ['zigbuild', ...linux.flatMap((p) => ['--target', ALL.PLATFORMS[p].zig])], env);
  }
  const darwin = of('darwin');
  const sdk = darwin.length ? macosSdk() : null;
  for (const p of darwin) {
    const { triple } = ALL.PLATFORMS[p];
    // A cargo run each: rustc and zig read the deployment target from the one variable.
    cargo(p, ['zigbuild', '--target', triple], {
      ...ALL.buildEnv(p),
      SDKROOT: sdk,
      CIVIC_LD64_LLD: findLd64(),
      // rustc drives ld64.lld itself (its ld64 flavour: -arch, -platform_version with the
      // deployment target, -dylib, -exported_symbols_list), through scripts/ld64-lld.sh.
      [`${envKey(triple)}_RUSTFLAGS`]: `-C linker=${path.join(__dirname, 'ld64-lld.sh')} -C linker-flavor=ld64.lld`,
    });
  }
  for (const p of of('win32')) {
    // mingw-w64's gcc links it (rustc's default for the gnu target) and compiles ring's C. napi's
    // dyn-symbols (Cargo.toml) looks Node-API up in node.exe at load time, as the msvc build does,
    // but napi-build, run by napi's build script as by ours, insists on a libnode.dll to link on a
    // gnu target: it gets an empty one, from which nothing is imported (wine.test.js checks).
    const stub = path.join(targetDir, 'win32-libnode-stub');
    fs.mkdirSync(stub, { recursive: true });
    execFileSync(MINGW_GCC, ['-shared', '-x', 'c', '-', '-o', path.join(stub, 'libnode.dll')], { input: 'int civic_sip_native_libnode_stub;\n' });
    cargo(`${p} (as ${buildTriple(p)})`, ['build', '--target', buildTriple(p)], { [`${envKey(buildTriple(p))}_LINKER`]: MINGW_GCC, LIBNODE_PATH: stub });
  }
  return platforms.map((p) => {
    const built = path.join(targetDir, buildTriple(p), 'release', ALL.libraryName(p));
    fs.mkdirSync(path.dirname(addonPath(p)), { recursive: true });
    replaceAddon(built, addonPath(p));
    console.log(`${path.relative(root, addonPath(p))}: ${fs.statSync(built).size} bytes`);
    return addonPath(p);
  });
}

module.exports = {
  PLATFORMS, PYPI_TOOLS, addonPath, buildPlatforms, buildTriple, missingTools, select, findLd64,
};

if (require.main === module) {
  try {
    buildPlatforms(process.argv.slice(2));
  } catch (error) {
    console.error(error.message);
    process.exitCode = 1;
  }
}
