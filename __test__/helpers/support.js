'use strict';

/**
 * What every suite of the client needs, in one place: servers that close when their test ends,
 * the outcome of a promise, a script in a child process, and a process that reaches its servers
 * directly whatever proxy the environment names.
 *
 *   const support = require('./helpers/support');
 *   support.clearProxyEnv();                 // first, before the package is loaded
 *   const { emulator, fakeCivic, httpServer, outcome, records } = support;
 *
 * clearProxyEnv(extra = []) -> void
 *   Deletes HTTP_PROXY, http_proxy, HTTPS_PROXY, https_proxy, NO_PROXY, no_proxy and the names in
 *   `extra` (e.g. 'NODE_EXTRA_CA_CERTS') from this process's environment, for the whole file:
 *   loopback servers are reached directly (proxy.test.js sets them for child processes only).
 *
 * Servers that close after the test `t` (t.after), on 127.0.0.1 (see helpers/servers.js):
 *   emulator(t, options)               -> startEmulator(options) (emulator/index.js)
 *   fakeCivic(t, options)              -> startFakeCivic(options) (helpers/civic.js)
 *   httpServer(t, handler, options)    -> startServer(handler, options)
 *   socketServer(t, onConnection, options) -> startSocketServer(onConnection, options)
 *   proxyServer(t, options)            -> startProxy(options)
 *
 * outcome(promiseOrFunction) -> Promise<{ ok: true, value } | { ok: false, error }>
 *   Waits for the promise (or for the promise the function returns; a function that throws
 *   gives { ok: false, error }); never rejects. For a deadline, see assertions.js settle().
 *
 * runNode(script, { env = {}, args = [], timeout = 60000 } = {}) -> Promise<{ code, stdout, stderr }>
 *   `node [...args] -e script` in the package's directory (so `require('.')` is the package),
 *   with PATH and `env` only (no proxy variables); code is the exit status (0 on success).
 *
 * records(data) -> copies of the records (plain objects), to compare with deepEqual
 * sleep(ms) -> Promise that resolves after `ms`
 *
 * timingDependent(options = {}) -> test or describe options
 *   For a case whose pass depends on the machine giving it the CPU on time (a bound with a
 *   quarter of a second of slack or less, a flood): `npm test` skips it (scripts/test.js sets
 *   CIVIC_SIP_SKIP_TIMING_DEPENDENT=1), `npm run test:all` and `node --test <file>` run it.
 */

const path = require('node:path');
const { execFile } = require('node:child_process');

const { startEmulator } = require('../../emulator');
const { startFakeCivic } = require('./civic');
const { startServer, startSocketServer, startProxy } = require('./servers');

const ROOT = path.join(__dirname, '..', '..');
const PROXY_VARIABLES = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'];

function clearProxyEnv(extra = []) {
  for (const name of [...PROXY_VARIABLES, ...extra]) delete process.env[name];
}

/** Starts a server with `start()` and closes it when `t` ends. */
async function closingWith(t, start) {
  const started = await start();
  t.after(() => started.close());
  return started;
}

const emulator = (t, options) => closingWith(t, () => startEmulator(options));
const fakeCivic = (t, options) => closingWith(t, () => startFakeCivic(options));
const httpServer = (t, handler, options) => closingWith(t, () => startServer(handler, options));
const socketServer = (t, onConnection, options) => closingWith(t, () => startSocketServer(onConnection, options));
const proxyServer = (t, options) => closingWith(t, () => startProxy(options));

async function outcome(promiseOrFunction) {
  try {
    const value = await (typeof promiseOrFunction === 'function' ? promiseOrFunction() : promiseOrFunction);
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error };
  }
}

function runNode(script, { env = {}, args = [], timeout = 60000 } = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, [...args, '-e', script], {
      cwd: ROOT, env: { PATH: process.env.PATH, ...env }, timeout, maxBuffer: 1 << 24,
    }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

const records = (data) => data.map((r) => ({ ...r }));
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

const timingDependent = (options = {}) => (process.env.CIVIC_SIP_SKIP_TIMING_DEPENDENT === '1'
  ? { ...options, skip: 'timing-dependent on a loaded machine: npm run test:all runs it' }
  : options);

module.exports = {
  clearProxyEnv,
  emulator,
  fakeCivic,
  httpServer,
  socketServer,
  proxyServer,
  outcome,
  runNode,
  records,
  sleep,
  timingDependent,
};
