'use strict';

/**
 * The environment a fixture app (__test__/fixtures/apps) reads to exchange one auth code with an
 * emulator: the app's credentials, the emulator's URL and key, and a fresh auth code for
 * DEFAULT_USER_DATA whose userId is `userId`.
 *
 *   const { appEnv } = require('./helpers/apps');
 *   execFile(process.execPath, ['app.js'], { env: appEnv(emu, 'packed') }, ...)
 */

const { DEFAULT_USER_DATA } = require('../../emulator');

function appEnv(emu, userId) {
  return {
    ...process.env,
    APP_ID: emu.app.appId,
    APP_SECRET: emu.app.appSecret,
    PRV_KEY: emu.app.prvKey,
    CIVIC_API: emu.url,
    CIVIC_PUBLIC_KEY: emu.civicPublicKey,
    AUTH_CODE: emu.mintAuthCode(DEFAULT_USER_DATA, { userId }),
  };
}

module.exports = { appEnv };
