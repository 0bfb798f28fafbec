'use strict';

// The emulator in its own process, so its CPU and memory are not counted against the client.
// With BENCH_TLS (JSON: PEM key and cert) it serves HTTPS, as Civic does. Sends its client config
// and an auth code to the parent over IPC; exits when the parent goes.

const { startEmulator } = require('../emulator');

const tls = process.env.BENCH_TLS ? JSON.parse(process.env.BENCH_TLS) : undefined;
startEmulator({ recordRequests: false, keepAliveTimeout: 120_000, tls }).then((emu) => {
  process.send({ config: emu.clientConfig(), authCode: emu.mintAuthCode() });
  process.on('disconnect', () => emu.close().then(() => process.exit(0)));
});
