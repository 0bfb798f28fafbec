'use strict';

/**
 * A hostile server in a process of its own, so that its flood never shares the test's event loop.
 *
 *   const { startFlood } = require('./helpers/flood');
 *   const flood = await startFlood('interim');   // { url, port, connections(), close() }
 *
 * The server runs at nice 10. Each connection's request is read up to the end of its headers,
 * then answered with an endless
 * stream, written as fast as the client reads it:
 *   'interim'  `HTTP/1.1 103 Early Hints` interim responses, one after another, never a final one
 *   'body'     a 200 with a chunked body of 1-byte chunks without end
 * flood.connections() resolves with { accepted, open, written }: the connections accepted so far,
 * those not yet closed by the client, and the bytes of flood the kernel has taken from this
 * server (written and no longer queued here), all connections together: what proves that the
 * flood flowed (the kernel's socket buffers hold a few MB of it that the client never read).
 *
 * Run directly (`node flood.js interim`) it prints its port as one JSON line and serves until
 * its stdin closes.
 */

const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const PIECES = {
  interim: ['', 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n'],
  body: ['HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n', '1\r\n \r\n'],
};

function serve(mode) {
  // The hostile server stands for another machine: on a small test box its own writing should
  // not take CPU from the client under test before the client's threads (nice 10) get it.
  try { os.setPriority(10); } catch { /* not permitted: keep the default */ }
  const [head, piece] = PIECES[mode];
  // Many pieces per write, so the flood is limited by the client's reading, not by our writes.
  const block = Buffer.from(piece.repeat(Math.ceil(65536 / piece.length)));
  let accepted = 0;
  let open = 0;
  let writtenByClosed = 0;
  const sockets = new Set();
  const taken = (socket) => socket.bytesWritten - socket.writableLength;
  const written = () => [...sockets].reduce((sum, socket) => sum + taken(socket), writtenByClosed);
  const server = net.createServer((socket) => {
    accepted += 1;
    open += 1;
    sockets.add(socket);
    socket.on('close', () => {
      open -= 1;
      sockets.delete(socket);
      writtenByClosed += taken(socket);
    });
    socket.on('error', () => {});
    let seen = '';
    const onData = (data) => {
      seen += data.toString('latin1');
      if (!seen.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.resume();
      socket.write(head);
      const pump = () => {
        while (!socket.destroyed && socket.write(block));
      };
      socket.on('drain', pump);
      pump();
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  // One answer per query line, however the lines arrive.
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (text) => {
    for (let i = text.split('\n').length - 1; i > 0; i -= 1) {
      process.stdout.write(`${JSON.stringify({ accepted, open, written: written() })}\n`);
    }
  });
  process.stdin.on('end', () => process.exit(0));
}

/** Starts `node flood.js <mode>`; the child exits when closed or when this process exits. */
function startFlood(mode) {
  const child = spawn(process.execPath, [__filename, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  const waiting = [];
  let rest = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (text) => {
    rest += text;
    let at;
    while ((at = rest.indexOf('\n')) >= 0) {
      const line = JSON.parse(rest.slice(0, at));
      rest = rest.slice(at + 1);
      if (waiting.length > 0) waiting.shift()(line);
      else lines.push(line);
    }
  });
  const next = () => (lines.length > 0
    ? Promise.resolve(lines.shift())
    : new Promise((resolve) => { waiting.push(resolve); }));
  const exited = new Promise((resolve) => { child.on('exit', resolve); });
  return next().then(({ port }) => ({
    port,
    url: `http://127.0.0.1:${port}/`,
    connections() {
      child.stdin.write('?\n');
      return next();
    },
    close() {
      child.stdin.end();
      return exited;
    },
  }));
}

if (require.main === module) serve(process.argv[2] || 'interim');

module.exports = { startFlood, FLOOD_SCRIPT: path.resolve(__filename) };
