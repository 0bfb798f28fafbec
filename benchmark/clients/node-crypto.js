'use strict';

// What a developer might write instead of using any SDK: the same exchange on node:crypto and the
// global fetch, written plainly and idiomatically (keys parsed once, no needless work).

const crypto = require('node:crypto');

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function p256PrivateKey(hex) {
  const ecdh = crypto.createECDH('prime256v1');
  ecdh.setPrivateKey(Buffer.from(hex, 'hex'));
  const pub = ecdh.getPublicKey();
  return crypto.createPrivateKey({
    format: 'jwk',
    key: { kty: 'EC', crv: 'P-256', d: b64url(Buffer.from(hex, 'hex')), x: b64url(pub.subarray(1, 33)), y: b64url(pub.subarray(33)) },
  });
}

function p256PublicKey(hex) {
  const point = crypto.ECDH.convertKey(hex, 'prime256v1', 'hex', 'buffer', 'uncompressed');
  return crypto.createPublicKey({
    format: 'jwk',
    key: { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)) },
  });
}

function createClient({ appId, appSecret, prvKey, api = 'https://api.civic.com/sip/', env = 'prod', civicPublicKey }) {
  const base = api.endsWith('/') ? api : `${api}/`;
  const url = `${base}${env}/scopeRequest/authCode`;
  const signingKey = p256PrivateKey(prvKey);
  const civicKey = p256PublicKey(civicPublicKey);
  const aesKey = Buffer.from(appSecret, 'hex');
  const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT' }));

  function authorization(body) {
    const now = Date.now() / 1000;
    const claims = {
      jti: crypto.randomUUID(), iat: now, exp: now + 180, iss: appId, aud: base, sub: appId,
      data: { method: 'POST', path: 'scopeRequest/authCode' },
    };
    const input = `${header}.${b64url(JSON.stringify(claims))}`;
    const signature = crypto.sign('sha256', Buffer.from(input), { key: signingKey, dsaEncoding: 'ieee-p1363' });
    const extension = crypto.createHmac('sha256', appSecret).update(body).digest('base64');
    return `Civic ${input}.${b64url(signature)}.${extension}`;
  }

  function open(token, encrypted) {
    const [h, p, s] = token.split('.');
    const ok = crypto.verify('sha256', Buffer.from(`${h}.${p}`), { key: civicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    if (!ok || JSON.parse(Buffer.from(h, 'base64url').toString()).alg !== 'ES256' || !(claims.exp + 60 >= Date.now() / 1000)) {
      throw new Error('JWT Token containing encrypted data could not be verified');
    }
    if (!encrypted) return JSON.parse(claims.data);
    const decipher = crypto.createDecipheriv(`aes-${aesKey.length * 8}-cbc`, aesKey, Buffer.from(claims.data.slice(0, 32), 'hex'));
    return JSON.parse(Buffer.concat([decipher.update(claims.data.slice(32), 'base64'), decipher.final()]).toString());
  }

  async function exchangeCode(authCode) {
    // Keys sorted, so these bytes are also the stable-stringified form Civic checks.
    const body = JSON.stringify({ allowS3UploadedPayload: true, authToken: authCode });
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: '*/*', Authorization: authorization(body) },
      body,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Error exchanging code for data: ${response.status} - ${JSON.stringify(text)}`);
    const reply = JSON.parse(text);
    const token = reply.processed ? await (await fetch(reply.data)).text() : reply.data;
    return { data: open(token, reply.encrypted), userId: reply.userId };
  }

  return { exchangeCode, authorization, open };
}

module.exports = { createClient };
