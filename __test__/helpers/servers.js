'use strict';

/**
 * Every server the test suites run, on 127.0.0.1 and Node built-ins only: plain and TLS HTTP
 * servers, raw TCP servers, a closed port, an HTTP proxy, and hostile servers in processes of
 * their own (where their writing must not share the test's event loop).
 *
 *   const { startServer, startSocketServer, closedPort, startProxy, startFlood, httpRequest,
 *           TLS_KEY, TLS_CERT, tlsFixture, CA_PEM } = require('./helpers/servers');
 *
 * (helpers/support.js wraps each in a form that closes with the test: server(t, ...), ...)
 *
 * startServer(handler, { tls = false, host = '127.0.0.1', readBody = true } = {}) -> Promise<TestServer>
 *   A node:http server, or node:https with `tls: true` (the self-signed TLS_KEY/TLS_CERT) or
 *   `tls: { key, cert }`. With readBody, the request body is read in full, recorded, then
 *   `handler(req, res, bodyText)` is called; with `readBody: false` the handler gets the request
 *   as soon as its headers are in (the body is left to it and recorded as undefined). A handler
 *   that never answers leaves the request hanging until close().
 *   TestServer:
 *     .url        'http://127.0.0.1:<port>/' ('https://…' with tls), trailing slash included
 *     .port, .host
 *     .requests   [{ method, url, headers, body }], in arrival order (url as on the request line)
 *     .sockets    the open connections (a Set of sockets)
 *     .close()    Promise: stops listening and destroys every socket (hanging requests included).
 *                 Idempotent.
 *
 * startSocketServer(onConnection, { host = '127.0.0.1', port = 0 } = {}) -> Promise<SocketServer>
 *   A raw TCP server (node:net): `onConnection(socket)` for each connection, socket errors
 *   ignored. { url ('http://<host>:<port>/'), port, host, sockets, close() } as above. `port`
 *   listens on a given port (a closedPort() coming back up).
 *
 * closedPort() -> Promise<number>
 *   A port of 127.0.0.1 that was just listened on and closed: connecting to it is refused.
 *
 * startProxy({ host = '127.0.0.1' } = {}) -> Promise<Proxy>
 *   A loopback HTTP proxy: absolute-form HTTP forwarding and CONNECT tunnelling, recording every
 *   request it proxied.
 *     .url       'http://127.0.0.1:<port>' (no trailing slash, as proxy URLs are written)
 *     .port, .host
 *     .requests  every request proxied, in arrival order:
 *                  { method: 'POST', url: 'http://127.0.0.1:1234/prod/scopeRequest/authCode',
 *                    headers, body }                      (plain HTTP, absolute form)
 *                  { method: 'CONNECT', url: '127.0.0.1:1234', headers, body: '' }  (tunnel)
 *                headers are as Node lower-cases them; body is the request body text.
 *                A record is added once its body has been read, before it is forwarded.
 *     .close()   Promise: stops listening and destroys every socket (clients, upstream
 *                connections, tunnels). Idempotent.
 *   Behaviour:
 *   - `METHOD http://host:port/path` is forwarded in origin form over a fresh upstream connection
 *     (agent: false), hop-by-hop headers (Connection, Keep-Alive, Proxy-*, Transfer-Encoding)
 *     dropped, and the answer relayed with its status and headers.
 *   - An upstream that cannot be reached gets 502 with the JSON body
 *     `{"message":"Bad Gateway","cause":"<error code, e.g. ECONNREFUSED>"}`.
 *   - `CONNECT host:port` opens a TCP tunnel (`HTTP/1.1 200 Connection Established`), or answers
 *     `HTTP/1.1 502 Bad Gateway` when the target cannot be reached.
 *   - A request in origin form (`GET /path`, not meant for a proxy) gets 400 and is not recorded.
 *
 * startFlood(mode) -> Promise<{ url, port, connections(), close() }>
 *   A hostile server in a child process that floods each connection ('interim': endless 103
 *   responses; 'body': an endless chunked body). See helpers/flood.js.
 *
 * httpRequest(url, { method = 'GET', headers = {}, body } = {}) -> Promise<{ status, headers, body }>
 *   One request with a fresh connection (agent: false); body text decoded as UTF-8. Rejects on
 *   network errors. `rejectUnauthorized` is off for https (the test certificate is self-signed).
 *
 * TLS_KEY, TLS_CERT
 *   A self-signed P-256 certificate for IP 127.0.0.1 (CN 127.0.0.1, valid 2026-2126), PEM.
 *   Clients must turn certificate checks off (`proxy: { rejectUnauthorized: false }`).
 * tlsFixture(name) -> { key: Buffer, cert: string }
 *   fixtures/tls/<name>-key.pem and <name>.pem: 'server' (issued by CA_PEM for 127.0.0.1),
 *   'localhost' (self-signed, CA:TRUE), 'localhost-expired', 'localhost-not-yet-valid'.
 * CA_PEM
 *   fixtures/tls/ca.pem: the private CA that issued the 'server' certificate (valid until 2126).
 */

const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { startFlood } = require('./flood');

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

function listen(server, host, port = 0) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

async function startServer(handler, { tls = false, host = '127.0.0.1', readBody = true } = {}) {
  const credentials = tls === true ? { key: TLS_KEY, cert: TLS_CERT } : tls;
  const server = credentials ? https.createServer(credentials) : http.createServer();
  const requests = [];
  const open = connections(server);
  // 'connection' sees the raw TCP socket; with TLS, 'secureConnection' sees the TLS socket too.
  server.on('connection', open.track);
  if (credentials) {
    server.on('secureConnection', open.track);
    server.on('tlsClientError', () => {}); // a client refusing the certificate
  }
  const answer = (req, res, body) => {
    try {
      handler(req, res, body);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(err && err.stack));
    }
  };
  server.on('request', (req, res) => {
    if (!readBody) {
      requests.push({ method: req.method, url: req.url, headers: { ...req.headers }, body: undefined });
      answer(req, res, undefined);
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method, url: req.url, headers: { ...req.headers }, body });
      if (open.closing) {
        req.socket.destroy();
        return;
      }
      answer(req, res, body);
    });
  });
  const port = await listen(server, host);
  return {
    url: `${credentials ? 'https' : 'http'}://${host}:${port}/`,
    port,
    host,
    requests,
    sockets: open.sockets,
    close: open.close,
  };
}

/**
 * The open connections of `server`: track(socket) for each (a socket arriving while closing is
 * destroyed); close() stops listening and destroys them all, once (idempotent).
 */
function connections(server) {
  const sockets = new Set();
  let closing = null;
  return {
    sockets,
    get closing() {
      return closing !== null;
    },
    track(socket) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      if (closing) socket.destroy();
    },
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

async function startSocketServer(onConnection, { host = '127.0.0.1', port = 0 } = {}) {
  let open = null;
  const server = net.createServer((socket) => {
    open.track(socket);
    if (!open.closing) onConnection(socket);
  });
  open = connections(server);
  const actual = await listen(server, host, port);
  return {
    url: `http://${host}:${actual}/`,
    port: actual,
    host,
    sockets: open.sockets,
    close: open.close,
  };
}

// ------------------------------------------------------------------------ the proxy

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate',
  'transfer-encoding', 'te', 'trailer', 'upgrade',
]);

function endToEnd(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  }
  return out;
}

function badGateway(res, err) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({ message: 'Bad Gateway', cause: (err && err.code) || 'ERROR' });
  res.writeHead(502, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

async function startProxy({ host = '127.0.0.1' } = {}) {
  const server = http.createServer();
  const requests = [];
  const open = connections(server);
  const { track } = open;
  server.on('connection', track);
  server.on('clientError', (err, socket) => socket.destroy());

  server.on('request', (req, res) => {
    let target;
    try {
      target = /^http:\/\//i.test(req.url) ? new URL(req.url) : null;
    } catch {
      target = null;
    }
    if (!target) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('this is a proxy: absolute-form requests only');
      return;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method, url: req.url, headers: { ...req.headers }, body: body.toString('utf8') });
      if (open.closing) {
        req.socket.destroy();
        return;
      }
      const headers = endToEnd(req.headers);
      if (body.length > 0 || 'content-length' in req.headers) headers['content-length'] = String(body.length);
      const upstream = http.request({
        host: target.hostname.replace(/^\[|\]$/g, ''),
        port: target.port || 80,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
        agent: false,
      });
      upstream.on('socket', track);
      upstream.on('error', (err) => badGateway(res, err));
      upstream.on('response', (up) => {
        res.writeHead(up.statusCode, up.statusMessage, endToEnd(up.headers));
        up.pipe(res);
        up.on('error', () => res.destroy());
      });
      res.on('close', () => upstream.destroy());
      upstream.end(body);
    });
  });

  server.on('connect', (req, clientSocket, head) => {
    requests.push({ method: 'CONNECT', url: req.url, headers: { ...req.headers }, body: '' });
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(req.url);
    if (!m || open.closing) {
      clientSocket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(m[2]), m[1]);
    track(upstream);
    upstream.once('connect', () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head && head.length) upstream.write(head);
      upstream.pipe(clientSocket);
      clientSocket.pipe(upstream);
    });
    upstream.once('error', () => {
      if (!clientSocket.destroyed) clientSocket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    });
    upstream.once('close', () => clientSocket.destroy());
    clientSocket.once('close', () => upstream.destroy());
  });

  const port = await listen(server, host);
  return {
    url: `http://${host}:${port}`,
    port,
    host,
    requests,
    close: open.close,
  };
}

// ------------------------------------------------------------------------ the rest

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

const TLS_DIR = path.join(__dirname, '..', 'fixtures', 'tls');
const CA_PEM = fs.readFileSync(path.join(TLS_DIR, 'ca.pem'), 'utf8');

function tlsFixture(name) {
  return {
    key: fs.readFileSync(path.join(TLS_DIR, `${name}-key.pem`)),
    cert: fs.readFileSync(path.join(TLS_DIR, `${name}.pem`), 'utf8'),
  };
}

module.exports = {
  startServer,
  startSocketServer,
  closedPort,
  startProxy,
  startFlood,
  httpRequest,
  TLS_KEY,
  TLS_CERT,
  TLS_DIR,
  CA_PEM,
  tlsFixture,
};
