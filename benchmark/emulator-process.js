'use strict';

// The emulator in its own process, so its CPU and memory are not counted against the client.
// Sends its client config and an auth code to the parent over IPC; exits when the parent goes.

const { startEmulator } = require('../emulator');

startEmulator({ recordRequests: false, keepAliveTimeout: 120_000 }).then((emu) => {
  process.send({ config: emu.clientConfig(), authCode: emu.mintAuthCode() });
  process.on('disconnect', () => emu.close().then(() => process.exit(0)));
});
