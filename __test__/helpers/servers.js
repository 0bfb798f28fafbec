'use strict';

/**
 * Small loopback servers and HTTP utilities for the test suites (Node built-ins only).
 *
 *   const { startServer, closedPort, httpRequest, TLS_KEY, TLS_CERT } = require('./helpers/servers');
 *
 * startServer(handler, { tls = false, host = '127.0.0.1' } = {}) -> Promise<TestServer>
 *   A node:http (or, with `tls: true`, node:https) server. The request body is read in full,
 *   recorded, then `handler(req, res, bodyText)` is called. A handler that never answers leaves
 *   the request hanging until close().
 *   TestServer:
 *     .url        'http://127.0.0.1:<port>/' ('https://…' with tls), trailing slash included
 *     .port, .host
 *     .requests   [{ method, url, headers, body }], in arrival order (url as on the request line)
 *     .close()    Promise: stops listening and destroys every socket (hanging requests included).
 *                 Idempotent.
 *
 * closedPort() -> Promise<number>
 *   A port of 127.0.0.1 that was just listened on and closed: connecting to it is refused.
 *
 * httpRequest(url, { method = 'GET', headers = {}, body } = {}) -> Promise<{ status, headers, body }>
 *   One request with a fresh connection (agent: false); body text decoded as UTF-8. Rejects on
 *   network errors. `rejectUnauthorized` is off for https (the test certificate is self-signed).
 *
 * TLS_KEY, TLS_CERT
 *   A self-signed P-256 certificate for IP 127.0.0.1 (CN 127.0.0.1, valid 2026-2126), PEM.
 *   Clients must turn certificate checks off (`proxy: { rejectUnauthorized: false }`).
 */

const http = require('node:http');
const https = require('node:https');
const net = require('node:net');

const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSeCkTyxuGIrru2o3
UJxeyoXFxSNLSOsFpBWGCo4851ChRANCAAQUtV4zXs2aRAeowK0dWBkgcnNrNf57
+C67bbDkbbJAyNqIIdsoX7sCLT+DMHOMDC59oymhPrz2mvbICZvx4dEx
-----END PRIVATE KEY-----
`;

const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUMbltPi/lXBmMcIpWLTPCZClKMMcwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyMzEwMDk1N1oYDzIxMjYxMDMw
MTAwOTU3WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQUtV4zXs2aRAeowK0dWBkgcnNrNf57+C67bbDkbbJAyNqIIdsoX7sC
LT+DMHOMDC59oymhPrz2mvbICZvx4dExo2EwXzAdBgNVHQ4EFgQUTdjKHz9ngO6V
UxdDI5Ovjvb52UgwHwYDVR0jBBgwFoAUTdjKHz9ngO6VUxdDI5Ovjvb52UgwDwYD
VR0RBAgwBocEfwAAATAMBgNVHRMBAf8EAjAAMAoGCCqGSM49BAMCA0gAMEUCICOy
9PEQ3rQCjPRauYzNNwy2r+xo0oQojx4nWyFr2SaQAiEA62BTSU9WMmnp9jR0sRJb
VevXLysSY2IeewjeJ2z1pus=
-----END CERTIFICATE-----
`;

function listen(server, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

async function startServer(handler, { tls = false, host = '127.0.0.1' } = {}) {
  const server = tls ? https.createServer({ key: TLS_KEY, cert: TLS_CERT }) : http.createServer();
  const sockets = new Set();
  const requests = [];
  let closing = null;
  // 'connection' sees the raw TCP socket; with TLS, 'secureConnection' sees the TLS socket too.
  const track = (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (closing) socket.destroy();
  };
  server.on('connection', track);
  if (tls) {
    server.on('secureConnection', track);
    server.on('tlsClientError', () => {}); // a client refusing the self-signed certificate
  }
  server.on('clientError', (err, socket) => socket.destroy());
  server.on('request', (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method, url: req.url, headers: { ...req.headers }, body });
      if (closing) {
        req.socket.destroy();
        return;
      }
      try {
        handler(req, res, body);
      } catch (err) {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(err && err.stack));
      }
    });
  });
  const port = await listen(server, host);
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${port}/`,
    port,
    host,
    requests,
    close() {
      if (!closing) {
        closing = new Promise((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
          sockets.clear();
        });
      }
      return closing;
    },
  };
}

async function closedPort() {
  const server = net.createServer();
  const port = await listen(server, '127.0.0.1');
  await new Promise((resolve) => { server.close(resolve); });
  return port;
}

function httpRequest(url, { method = 'GET', headers = {}, body } = {}) {
  const lib = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers, agent: false, rejectUnauthorized: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({
        status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'),
      }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

module.exports = { startServer, closedPort, httpRequest, TLS_KEY, TLS_CERT };
