'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startEmulator } = require('civic-sip-native/emulator');
const { createServer } = require('./app');

let emulator;
let app;
let url;

before(async () => {
  emulator = await startEmulator(); // Civic on 127.0.0.1, any free port
  app = createServer(emulator.clientConfig()); // appId, appSecret, prvKey, api, civicPublicKey
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${app.address().port}/auth/civic`;
});

after(async () => {
  await new Promise((resolve) => app.close(resolve));
  await emulator.close();
});

test('signs the user in with the data Civic shares', async () => {
  const authCode = emulator.mintAuthCode([
    { label: 'contact.personal.email', value: 'ada@example.com', isValid: true, isOwner: true },
  ], { userId: 'user-1' });
  const res = await fetch(url, { method: 'POST', body: authCode });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { userId: 'user-1', email: 'ada@example.com' });
});

test('refuses the sign-in when Civic refuses the exchange', async () => {
  emulator.fault('unauthorized', { times: 1 }); // the next exchange gets Civic's 401
  const res = await fetch(url, { method: 'POST', body: emulator.mintAuthCode() });
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { code: 'ERR_CIVIC_HTTP_STATUS' });
});
