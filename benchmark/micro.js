'use strict';

// Micro-benchmark of the two halves of an exchange in JS: building the Authorization header and
// verifying + decrypting a reply, with civic-sip-api's own libraries and with node:crypto.
// BENCH_MICRO holds {config, authCode, reply}; prints one JSON line per implementation.

const { config, authCode, reply } = JSON.parse(process.env.BENCH_MICRO);

function perOpUs(iterations, op) {
  for (let i = 0; i < Math.ceil(iterations / 10); i += 1) op();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) op();
  return Number(process.hrtime.bigint() - t0) / 1e3 / iterations;
}

const parsedReply = JSON.parse(reply);

// civic-sip-api's libraries, called the way its index.js calls them.
const jwtjs = require('civic-sip-api/lib/jwt');
const basicCrypto = require('civic-sip-api/lib/basicCrypto');
const body = { authToken: authCode, allowS3UploadedPayload: true };
const civic = {
  implementation: 'civic-sip-api',
  authorizationHeaderUs: perOpUs(50, () => {
    const token = jwtjs.createToken(config.appId, config.api, config.appId, '3m', { method: 'POST', path: 'scopeRequest/authCode' }, config.prvKey);
    return `Civic ${token}.${jwtjs.createCivicExt(body, config.appSecret)}`;
  }),
  verifyDecryptUs: perOpUs(50, () => {
    const token = JSON.parse(reply).data;
    if (!jwtjs.verify(token, config.civicPublicKey, { gracePeriod: 60 })) throw new Error('not verified');
    return JSON.parse(basicCrypto.decrypt(jwtjs.decode(token).payloadObj.data, config.appSecret));
  }),
};

const plain = require('./clients/node-crypto').createClient(config);
const bodyText = JSON.stringify({ allowS3UploadedPayload: true, authToken: authCode });
const nodeCrypto = {
  implementation: 'node:crypto',
  authorizationHeaderUs: perOpUs(2000, () => plain.authorization(bodyText)),
  verifyDecryptUs: perOpUs(2000, () => {
    const r = JSON.parse(reply);
    return plain.open(r.data, r.encrypted);
  }),
};
if (!Array.isArray(plain.open(parsedReply.data, parsedReply.encrypted))) throw new Error('reply does not open');

for (const result of [civic, nodeCrypto]) process.stdout.write(`${JSON.stringify(result)}\n`);
