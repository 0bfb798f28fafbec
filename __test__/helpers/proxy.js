'use strict';

/**
 * A loopback HTTP proxy for the test suites (node:http + node:net only): absolute-form HTTP
 * forwarding and CONNECT tunnelling, recording every request it proxied.
 *
 *   const { startProxy } = require('./helpers/proxy');
 *   const proxy = await startProxy();          // options: { host = '127.0.0.1' }
 *
 *   proxy.url       'http://127.0.0.1:<port>' (no trailing slash, as proxy URLs are written)
 *   proxy.port, proxy.host
 *   proxy.requests  every request proxied, in arrival order:
 *                     { method: 'POST', url: 'http://127.0.0.1:1234/prod/scopeRequest/authCode',
 *                       headers, body }                      (plain HTTP, absolute form)
 *                     { method: 'CONNECT', url: '127.0.0.1:1234', headers, body: '' }  (tunnel)
 *                   headers are as Node lower-cases them; body is the request body text.
 *                   A record is added once its body has been read, before it is forwarded.
 *   proxy.close()   Promise: stops listening and destroys every socket (clients, upstream
 *                   connections, tunnels). Idempotent.
 *
 * Behaviour:
 * - `METHOD http://host:port/path` is forwarded in origin form over a fresh upstream connection
 *   (agent: false), hop-by-hop headers (Connection, Keep-Alive, Proxy-*, Transfer-Encoding)
 *   dropped, and the answer relayed with its status and headers.
 * - An upstream that cannot be reached gets 502 with the JSON body
 *   `{"message":"Bad Gateway","cause":"<error code, e.g. ECONNREFUSED>"}`.
 * - `CONNECT host:port` opens a TCP tunnel (`HTTP/1.1 200 Connection Established`), or answers
 *   `HTTP/1.1 502 Bad Gateway` when the target cannot be reached.
 * - A request in origin form (`GET /path`, not meant for a proxy) gets 400 and is not recorded.
 */

const http = require('node:http');
const net = require('node:net');

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
  const sockets = new Set();
  const requests = [];
  let closing = null;

  const track = (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (closing) socket.destroy();
  };
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
      if (closing) {
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
    if (!m || closing) {
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

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address();

  return {
    url: `http://${host}:${port}`,
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

module.exports = { startProxy };
