'use strict';

// A reader for the 64-bit Mach-O files the macOS builds are, enough to check them as published
// (__test__/macos.test.js), and the check itself, kept apart so that it can be shown to fail on
// files with one thing wrong (a wrong deployment target, an extra export, an import from Linux).
// Layouts from Apple's <mach-o/loader.h> and <mach-o/nlist.h>: the header, the load commands
// (LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX for the minimum OS, LC_LOAD_DYLIB for the libraries,
// LC_SYMTAB for imports), and the export trie dyld looks exports up in (LC_DYLD_INFO_ONLY's or
// LC_DYLD_EXPORTS_TRIE's).

const fs = require('node:fs');
const path = require('node:path');

const MH_MAGIC_64 = 0xfeedfacf;
const CPU = { 0x01000007: 'x86_64', 0x0100000c: 'arm64' };
const FILETYPE = { 6: 'MH_DYLIB', 8: 'MH_BUNDLE' };
const LC = {
  SYMTAB: 0x2,
  LOAD_DYLIB: 0xc,
  LOAD_WEAK_DYLIB: 0x80000018,
  REEXPORT_DYLIB: 0x8000001f,
  LAZY_LOAD_DYLIB: 0x20,
  LOAD_UPWARD_DYLIB: 0x80000023,
  VERSION_MIN_MACOSX: 0x24,
  BUILD_VERSION: 0x32,
  DYLD_INFO_ONLY: 0x80000022,
  DYLD_EXPORTS_TRIE: 0x80000033,
};
const DYLIB_COMMANDS = new Set([LC.LOAD_DYLIB, LC.LOAD_WEAK_DYLIB, LC.REEXPORT_DYLIB, LC.LAZY_LOAD_DYLIB, LC.LOAD_UPWARD_DYLIB]);
const PLATFORM_MACOS = 1;
// An undefined symbol's library ordinal (<mach-o/nlist.h> GET_LIBRARY_ORDINAL): 1.. the nth
// LC_*_DYLIB, 0xfe looked up in every loaded image at load time (-undefined dynamic_lookup).
const DYNAMIC_LOOKUP_ORDINAL = 0xfe;

/** xxxx.yy.zz packed in 32 bits, as a version string (`11.0`, `10.13`, `10.13.4`). */
function version(packed) {
  const parts = [packed >>> 16, (packed >>> 8) & 0xff, packed & 0xff];
  return (parts[2] ? parts : parts.slice(0, 2)).join('.');
}

function cString(buf, at, end = buf.length) {
  let stop = at;
  while (stop < end && buf[stop] !== 0) stop += 1;
  return buf.toString('latin1', at, stop);
}

function uleb(buf, state) {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (state.at >= buf.length) throw new Error('export trie: ULEB128 runs past the end');
    const byte = buf[state.at++];
    value += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return value;
    shift += 7;
  }
}

/** The names in an export trie (each terminal node is one exported symbol). */
function exportTrie(trie) {
  const names = [];
  const seen = new Set();
  const walk = (offset, prefix) => {
    if (seen.has(offset) || offset >= trie.length) throw new Error(`export trie: bad node offset ${offset}`);
    seen.add(offset);
    const state = { at: offset };
    const terminal = uleb(trie, state);
    if (terminal > 0) names.push(prefix);
    state.at += terminal;
    const children = trie[state.at++];
    for (let i = 0; i < children; i++) {
      const edge = cString(trie, state.at);
      state.at += Buffer.byteLength(edge, 'latin1') + 1;
      walk(uleb(trie, state), prefix + edge);
    }
  };
  if (trie.length) walk(0, '');
  return names.sort();
}

/** What a 64-bit little-endian Mach-O file says about itself. Throws on anything else. */
function readMachO(buf) {
  if (buf.length < 32 || buf.readUInt32LE(0) !== MH_MAGIC_64) {
    throw new Error(`not a 64-bit little-endian Mach-O file (magic 0x${buf.subarray(0, 4).toString('hex')})`);
  }
  const info = {
    cpu: CPU[buf.readUInt32LE(4)] ?? `cputype 0x${buf.readUInt32LE(4).toString(16)}`,
    filetype: FILETYPE[buf.readUInt32LE(12)] ?? `filetype ${buf.readUInt32LE(12)}`,
    platform: null,
    minos: null,
    sdk: null,
    versionCommands: 0,
    dylibs: [],
    exports: [],
    imports: [],
  };
  const ncmds = buf.readUInt32LE(16);
  let at = 32;
  let symtab = null;
  let trie = null;
  for (let i = 0; i < ncmds; i++) {
    const cmd = buf.readUInt32LE(at);
    const size = buf.readUInt32LE(at + 4);
    if (size < 8 || at + size > buf.length) throw new Error(`load command ${i} runs past the end`);
    if (cmd === LC.BUILD_VERSION) {
      info.versionCommands += 1;
      info.platform = buf.readUInt32LE(at + 8) === PLATFORM_MACOS ? 'macos' : `platform ${buf.readUInt32LE(at + 8)}`;
      info.minos = version(buf.readUInt32LE(at + 12));
      info.sdk = version(buf.readUInt32LE(at + 16));
    } else if (cmd === LC.VERSION_MIN_MACOSX) {
      info.versionCommands += 1;
      info.platform = 'macos';
      info.minos = version(buf.readUInt32LE(at + 8));
      info.sdk = version(buf.readUInt32LE(at + 12));
    } else if (DYLIB_COMMANDS.has(cmd)) {
      info.dylibs.push(cString(buf, at + buf.readUInt32LE(at + 8), at + size));
    } else if (cmd === LC.SYMTAB) {
      symtab = { symoff: buf.readUInt32LE(at + 8), nsyms: buf.readUInt32LE(at + 12), stroff: buf.readUInt32LE(at + 16) };
    } else if (cmd === LC.DYLD_INFO_ONLY) {
      trie = { off: buf.readUInt32LE(at + 40), size: buf.readUInt32LE(at + 44) };
    } else if (cmd === LC.DYLD_EXPORTS_TRIE) {
      trie = { off: buf.readUInt32LE(at + 8), size: buf.readUInt32LE(at + 12) };
    }
    at += size;
  }
  if (trie) info.exports = exportTrie(buf.subarray(trie.off, trie.off + trie.size));
  if (symtab) {
    for (let i = 0; i < symtab.nsyms; i++) {
      const entry = symtab.symoff + i * 16;
      const type = buf[entry + 4];
      // External and undefined (N_EXT set, N_TYPE N_UNDF), not a debugging entry (N_STAB).
      if ((type & 0xe0) === 0 && (type & 0x0e) === 0 && (type & 0x01)) {
        const ordinal = (buf.readUInt16LE(entry + 6) >>> 8) & 0xff;
        info.imports.push({
          name: cString(buf, symtab.stroff + buf.readUInt32LE(entry)),
          from: ordinal === DYNAMIC_LOOKUP_ORDINAL ? 'dynamic lookup' : (info.dylibs[ordinal - 1] ?? `ordinal ${ordinal}`),
        });
      }
    }
  }
  return info;
}

/** Node-API function → the first Node-API version that has it (node-api-headers' symbols.js). */
function napiVersions() {
  const { symbols } = require('node-api-headers');
  const first = new Map();
  for (const key of Object.keys(symbols).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))) {
    for (const name of [...symbols[key].js_native_api_symbols, ...symbols[key].node_api_symbols]) {
      if (!first.has(name)) first.set(name, Number(key.slice(1)));
    }
  }
  return first;
}

/** The napiN feature the binding is built with (Cargo.toml): `napi8` → 8. */
function declaredNapiVersion(root = path.resolve(__dirname, '..', '..')) {
  const cargo = fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8');
  const levels = new Set(cargo.split('\n').filter((l) => /^napi\s*=/.test(l)).flatMap((l) => [...l.matchAll(/"napi(\d+)"/g)].map((m) => Number(m[1]))));
  if (levels.size !== 1) throw new Error(`one napiN feature expected for napi in Cargo.toml, found ${[...levels].join(', ') || 'none'}`);
  return [...levels][0];
}

// Names a macOS binary must never import: Linux's and glibc's (each would link here with
// -undefined dynamic_lookup and fail on a Mac at load time or at the call).
const LINUX_ONLY = /^_?(epoll_|eventfd|inotify_|signalfd|timerfd_|__errno_location$|__libc_|gnu_get_libc|prctl$|sched_getcpu$|getrandom$|statx$|memfd_create$|accept4$|pipe2$|dup3$)|@GLIBC|@@/;

/**
 * Every way the Mach-O file `info` (readMachO's) differs from a macOS addon as published, as
 * messages (none when it is right): `want` gives cpu, minos, napi (the Node-API version the
 * binding declares), maxBytes and bytes (the file's size).
 */
function machoProblems(info, want) {
  const problems = [];
  const napi = napiVersions();
  if (info.cpu !== want.cpu) problems.push(`architecture ${info.cpu}, not ${want.cpu}`);
  // napi-rs builds a cdylib: cargo's MH_DYLIB (node-gyp's addons are MH_BUNDLE; dlopen takes either).
  if (info.filetype !== 'MH_DYLIB' && info.filetype !== 'MH_BUNDLE') problems.push(`file type ${info.filetype}, not a dylib or bundle`);
  if (info.versionCommands !== 1) problems.push(`${info.versionCommands} minimum-OS load commands, not one`);
  if (info.platform !== 'macos') problems.push(`platform ${info.platform}, not macos`);
  if (info.minos !== want.minos) problems.push(`minimum macOS ${info.minos}, not ${want.minos}`);
  const dylibs = [...new Set(info.dylibs)];
  if (dylibs.length !== 1 || dylibs[0] !== '/usr/lib/libSystem.B.dylib') problems.push(`links ${dylibs.join(', ') || 'nothing'}, not libSystem only`);
  if (info.exports.length !== 1 || info.exports[0] !== '_napi_register_module_v1') {
    problems.push(`exports ${info.exports.length} symbols (${info.exports.slice(0, 5).join(', ')}${info.exports.length > 5 ? ', ...' : ''}), not _napi_register_module_v1 alone`);
  }
  for (const { name, from } of info.imports) {
    const bare = name.replace(/^_/, '');
    if (/^(napi|node_api)_/.test(bare)) {
      if (!napi.has(bare)) problems.push(`imports ${name}, no Node-API function`);
      else if (napi.get(bare) > want.napi) problems.push(`imports ${name} (Node-API ${napi.get(bare)}), newer than the declared Node-API ${want.napi}`);
      else if (from !== 'dynamic lookup') problems.push(`imports ${name} from ${from}, not from the loading Node`);
    } else if (LINUX_ONLY.test(name)) {
      problems.push(`imports ${name}, which only Linux has`);
    } else if (from !== '/usr/lib/libSystem.B.dylib') {
      // Bound nowhere (dynamic lookup): only the Node process could provide it, and it is not Node-API.
      problems.push(`imports ${name} from ${from}, not from libSystem`);
    }
  }
  if (want.maxBytes && want.bytes > want.maxBytes) problems.push(`${want.bytes} bytes, over the ${want.maxBytes} byte budget`);
  return problems;
}

module.exports = {
  readMachO, machoProblems, napiVersions, declaredNapiVersion, exportTrie, LINUX_ONLY,
};
