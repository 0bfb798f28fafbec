'use strict';

/**
 * The emulator's server lifecycle: a node:http server (node:https with `tls: { key, cert }`) that
 * tracks its connections, timers that die with it, and a close that ends everything at once.
 *
 *   const life = serverLifecycle({ keepAliveTimeout, tls, onRequest: (req, res) => ... });
 *   const { port, url } = await life.listen(port, host);  // url: 'http(s)://<host>:<port>/' (IPv6 in brackets)
 *   life.closed        true once close() was called: requests still arriving are dropped
 *   life.sleep(ms)     a Promise that resolves after ms; its timer is cleared by close()
 *   life.close()       Promise: stops listening, clears the timers, destroys every connection
 *                      (pending requests included); idempotent
 */

const http = require('node:http');
const https = require('node:https');

function serverLifecycle({ keepAliveTimeout, tls, onRequest }) {
  const sockets = new Set();
  const timers = new Set();
  let closed = false;
  let closePromise = null;

  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }) : http.createServer();
  // Node's default (5 s) drops idle keep-alive connections; a client whose event loop is stalled
  // for longer then writes into a closed socket. Long runs (benchmarks) raise it.
  if (keepAliveTimeout !== undefined) server.keepAliveTimeout = keepAliveTimeout;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (closed) socket.destroy();
  });
  server.on('request', onRequest);

  return {
    get closed() {
      return closed;
    },

    async listen(port, host) {
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const actualPort = server.address().port;
      const urlHost = host.includes(':') ? `[${host}]` : host;
      return { port: actualPort, url: `${tls ? 'https' : 'http'}://${urlHost}:${actualPort}/` };
    },

    sleep(ms) {
      return new Promise((resolve) => {
        const t = setTimeout(() => { timers.delete(t); resolve(); }, ms);
        timers.add(t);
      });
    },

    close() {
      if (closePromise) return closePromise;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      closePromise = new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        sockets.clear();
      });
      return closePromise;
    },
  };
}

module.exports = { serverLifecycle };
