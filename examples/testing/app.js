'use strict';

// A sign-in route as an app has it: POST /auth/civic with the auth code civic.sip.js gave the
// browser; the server exchanges it and answers with who signed in, or 401 with the error's code.
// The Civic client's settings come from the caller, so a test can point them at the emulator.

const http = require('node:http');
const civicSip = require('civic-sip-native');

function createServer(civicConfig) {
  const civic = civicSip.newClient(civicConfig);
  return http.createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/auth/civic') {
      res.writeHead(404).end();
      return;
    }
    let authCode = '';
    for await (const chunk of req) authCode += chunk;
    try {
      const { data, userId } = await civic.exchangeCode(authCode);
      const email = data.find((record) => record.label === 'contact.personal.email')?.value;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ userId, email }));
    } catch (error) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ code: error.code }));
    }
  });
}

module.exports = { createServer };
