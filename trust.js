'use strict';

// The certificates this Node process's own `https` trusts by default, so that an exchange
// without `ca` trusts exactly those (index.js hands them to the native client), and a deployment
// check can say which are in effect. Plain JS, no native code: it works where the addon does not
// load.
//
//   const { defaultTrust } = require('civic-sip-native/trust');
//   defaultTrust() -> { certificates: string[] (PEM), sources: string[] }
//
// Where Node has `tls.getCACertificates()` (22.15, 23.10 and later), the set is its 'default'
// one: Node's bundled Mozilla roots unless the OpenSSL store replaces them, the system store
// under `--use-system-ca` or `NODE_USE_SYSTEM_CA=1`, the file `NODE_EXTRA_CA_CERTS` names, or
// what `tls.setDefaultCACertificates()` set instead of all of those. Before that, it is
// `tls.rootCertificates` plus `NODE_EXTRA_CA_CERTS`. On every line, a process started with
// `--use-openssl-ca` (or a Node built to use it by default, as distributions build theirs)
// verifies against OpenSSL's store instead of the bundled roots; Node cannot list that store
// (its 'default' set leaves it out), so it is read here as OpenSSL reads it: `SSL_CERT_FILE`
// and the hashed certificates of `SSL_CERT_DIR`, or OpenSSL's own defaults.
//
// sources names where the certificates came from, in this order: 'bundled', 'system',
// 'openssl', 'NODE_EXTRA_CA_CERTS', 'setDefaultCACertificates'.
//
// A file that cannot be read is left out, as Node leaves it out (Node itself warns about an
// unreadable NODE_EXTRA_CA_CERTS when it starts): trusting fewer roots lets no connection through
// that Node would refuse. A set read completely is kept for as long as Node keeps its own; one
// read with a failure other than a missing file (descriptors exhausted, a file briefly
// unreadable) is read again at the next call.

const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

// The variables as they were when this module loaded, the nearest to what Node read when it
// started (an app that later deletes NODE_EXTRA_CA_CERTS from process.env, so that its child
// processes do not get it, still has Node trust that file).
const ENV = Object.freeze(Object.fromEntries(['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'NODE_USE_SYSTEM_CA',
  'SSL_CERT_FILE', 'SSL_CERT_DIR'].map((name) => [name, process.env[name]])));

/** The PEM certificates of a file's text. */
function certificatesOf(text) {
  return text.match(CERTIFICATE) || [];
}

/** The flags Node was started with: NODE_OPTIONS first, then the command line (the last wins). */
function nodeFlags() {
  const options = (ENV.NODE_OPTIONS || '').match(/(?:[^\s"]+|"[^"]*")+/g) || [];
  return [...options.map((o) => o.replace(/"/g, '')), ...process.execArgv];
}

/** Whether the last of `--name` and `--no-name` given is `--name` (`fallback` if neither). */
function flag(flags, name, fallback) {
  let on = fallback;
  for (const f of flags) {
    if (f === `--${name}`) on = true;
    else if (f === `--no-${name}`) on = false;
  }
  return on;
}

/**
 * Whether Node verifies against OpenSSL's store instead of its bundled roots: `--use-openssl-ca`,
 * or a Node built with `--openssl-use-def-ca-store` unless started with `--use-bundled-ca`.
 */
function usesOpensslStore(flags = nodeFlags()) {
  const defines = (process.config && process.config.target_defaults
    && process.config.target_defaults.defines) || [];
  const builtIn = defines.includes('NODE_OPENSSL_CERT_STORE');
  if (flag(flags, 'use-bundled-ca', false)) return false;
  return flag(flags, 'use-openssl-ca', builtIn);
}

/** A read failure that a later read may not meet (anything but a file that is not there). */
const passing = (error) => !['ENOENT', 'ENOTDIR'].includes(error && error.code);

/** `{ certificates, complete }` of one file; a missing file has none and is complete. */
function readCertificates(file) {
  try {
    return { certificates: certificatesOf(fs.readFileSync(file, 'latin1')), complete: true };
  } catch (error) {
    return { certificates: [], complete: !passing(error) };
  }
}

const sharedOpenssl = Boolean(process.config && process.config.variables
  && process.config.variables.node_shared_openssl);

// OpenSSL's directory in Node's own builds (its bundled OpenSSL is configured with /etc/ssl);
// a Node linked to the system's OpenSSL has the distribution's.
const OPENSSL_DIRS = sharedOpenssl ? ['/usr/lib/ssl', '/etc/pki/tls', '/etc/ssl'] : ['/etc/ssl'];

/**
 * OpenSSL's default store as Node's OpenSSL loads it: the file `SSL_CERT_FILE` names (else
 * `<OPENSSLDIR>/cert.pem`) and, in each directory of `SSL_CERT_DIR` (else `<OPENSSLDIR>/certs`),
 * the files named by subject hash (`1a2b3c4d.0`), the only ones OpenSSL looks up. A Node on
 * Linux linked to the system's OpenSSL, whose OPENSSLDIR only that OpenSSL knows, has it read by
 * Node (`getCACertificates('system')`, which reads the same file and directory, every file in it:
 * about 3 times the certificates and 50 ms on Debian, hence not for Node's own builds).
 */
function opensslStore() {
  if (sharedOpenssl && process.platform === 'linux' && typeof tls.getCACertificates === 'function') {
    return { certificates: tls.getCACertificates('system'), complete: true };
  }
  const env = ENV;
  const dir = process.platform === 'win32' ? undefined
    : OPENSSL_DIRS.find((d) => fs.existsSync(d)) || OPENSSL_DIRS[0];
  const file = env.SSL_CERT_FILE || (dir && path.join(dir, 'cert.pem'));
  const dirs = env.SSL_CERT_DIR ? env.SSL_CERT_DIR.split(path.delimiter)
    : [dir && path.join(dir, 'certs')];
  const found = file ? readCertificates(file) : { certificates: [], complete: true };
  const certificates = [...found.certificates];
  let { complete } = found;
  for (const d of dirs.filter(Boolean)) {
    let names = [];
    try {
      names = fs.readdirSync(d).filter((n) => /^[0-9a-f]{8}\.\d+$/i.test(n)).sort();
    } catch (error) {
      if (passing(error)) complete = false;
    }
    for (const name of names) {
      const one = readCertificates(path.join(d, name));
      certificates.push(...one.certificates);
      complete = complete && one.complete;
    }
  }
  return { certificates, complete };
}

/** The certificates of the file NODE_EXTRA_CA_CERTS names (Node reads it when it starts). */
function extraCertificates() {
  const file = ENV.NODE_EXTRA_CA_CERTS;
  return file ? readCertificates(file) : { certificates: [], complete: true };
}

/** The file a Node built with `--openssl-system-ca-path` adds to its roots, if any. */
function builtInCaFile() {
  const file = process.config && process.config.variables
    && process.config.variables.openssl_system_ca_path;
  return typeof file === 'string' && file !== '' ? readCertificates(file)
    : { certificates: [], complete: true };
}

const sameList = (a, b) => a.length === b.length && a.every((c, i) => c === b[i]);

/** The set from `tls.getCACertificates('default')`, with where it came from. */
function fromGetCACertificates(current) {
  const flags = nodeFlags();
  const openssl = usesOpensslStore(flags);
  const extra = tls.getCACertificates('extra');
  const inDefault = new Set(current);
  const within = (list) => list.length > 0 && list.every((c) => inDefault.has(c));
  const sources = [];
  const covered = new Set();
  const cover = (name, list) => {
    sources.push(name);
    for (const c of list) covered.add(c);
  };
  // Only asked for when Node uses it, so that nothing is read that Node did not read.
  const systemWanted = flag(flags, 'use-system-ca', ENV.NODE_USE_SYSTEM_CA === '1');
  if (!openssl && within(tls.getCACertificates('bundled'))) cover('bundled', tls.getCACertificates('bundled'));
  if (systemWanted && within(tls.getCACertificates('system'))) cover('system', tls.getCACertificates('system'));
  if (within(extra)) cover('NODE_EXTRA_CA_CERTS', extra);
  const reset = current.some((c) => !covered.has(c))
    || (openssl && !systemWanted && !sameList(current, extra));
  if (reset) {
    // tls.setDefaultCACertificates() replaced Node's roots: they are all that is trusted.
    return { certificates: [...current], sources: ['setDefaultCACertificates'], complete: true };
  }
  const certificates = [...current];
  let complete = true;
  if (openssl) {
    const store = opensslStore();
    certificates.push(...store.certificates);
    complete = store.complete;
    sources.splice(sources.includes('system') ? 1 : 0, 0, 'openssl');
  }
  // Node's https read NODE_EXTRA_CA_CERTS when it started, but its 'default' list leaves the
  // extra certificates out once an app has deleted the variable (22.23, 24): they are added here,
  // as Node read them, or from the file captured at load.
  if (extra.length > 0 && !within(extra)) {
    certificates.push(...extra);
    sources.push('NODE_EXTRA_CA_CERTS');
  } else if (extra.length === 0 && ENV.NODE_EXTRA_CA_CERTS) {
    const file = extraCertificates();
    certificates.push(...file.certificates);
    if (file.certificates.length > 0) sources.push('NODE_EXTRA_CA_CERTS');
    complete = complete && file.complete;
  }
  const builtIn = builtInCaFile();
  certificates.push(...builtIn.certificates);
  return { certificates, sources, complete: complete && builtIn.complete };
}

/** The set before `tls.getCACertificates()`: the bundled roots or OpenSSL's, and the extra file. */
function fromRootCertificates() {
  const openssl = usesOpensslStore();
  const parts = openssl
    ? [['openssl', opensslStore()]]
    : [['bundled', { certificates: tls.rootCertificates, complete: true }]];
  parts.push(['NODE_EXTRA_CA_CERTS', extraCertificates()], ['', builtInCaFile()]);
  const certificates = [];
  const sources = [];
  let complete = true;
  for (const [name, part] of parts) {
    certificates.push(...part.certificates);
    if (name && part.certificates.length > 0) sources.push(name);
    complete = complete && part.complete;
  }
  return { certificates, sources, complete };
}

// The last set computed completely, and what it was computed from: Node's 'default' array (the
// same array until tls.setDefaultCACertificates() replaces it) or, before getCACertificates,
// nothing (Node reads its roots once).
let kept;

/**
 * The certificates Node's `https` trusts by default in this process, and where they came from:
 * `{ certificates: string[] (PEM), sources: string[] }`, frozen. The same object while the set
 * is unchanged (an identity check tells a caller whether it changed). Throws only what
 * `tls.getCACertificates()` throws.
 */
function defaultTrust() {
  const hasGetCA = typeof tls.getCACertificates === 'function';
  const from = hasGetCA ? tls.getCACertificates('default') : tls;
  if (kept !== undefined && kept.from === from) return kept.trust;
  const { certificates, sources, complete } = hasGetCA
    ? fromGetCACertificates(from)
    : fromRootCertificates();
  const trust = Object.freeze({
    certificates: Object.freeze(certificates),
    sources: Object.freeze(sources),
  });
  if (complete) kept = { from, trust };
  return trust;
}

module.exports = { defaultTrust };
