'use strict';

// The main job: start the local Civic emulator, exchange an auth code through civic-sip-native,
// print the verified user data.

require('./build').ensureBuilt();

const civicSip = require('..');
const { startEmulator } = require('../emulator');

async function main() {
  const emulator = await startEmulator();
  try {
    const client = civicSip.newClient(emulator.clientConfig());
    const authCode = emulator.mintAuthCode();
    console.log(`Civic emulator at ${emulator.url} (app ${emulator.app.appId})`);
    const started = process.hrtime.bigint();
    const { data, userId } = await client.exchangeCode(authCode);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`Exchanged the auth code in ${ms.toFixed(1)} ms. userId: ${userId}`);
    console.table(data);
  } finally {
    await emulator.close();
  }
}

main().catch((error) => {
  console.error(`${error.code}: ${error.message}`);
  process.exitCode = 1;
});
