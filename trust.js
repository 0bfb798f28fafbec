'use strict';

// check-tmp: a placeholder for the trust branch's trust.js, of the same shape.
// defaultTrust() -> { certificates: string[] (PEM), sources: string[] }: the roots this Node
// process trusts, as Node's https would.

const fs = require('node:fs');
const tls = require('node:tls');

function defaultTrust() {
  if (typeof tls.getCACertificates === 'function') {
    return { certificates: tls.getCACertificates('default'), sources: ["Node's default CA certificates"] };
  }
  const certificates = [...tls.rootCertificates];
  const sources = [`Node's bundled Mozilla roots (${certificates.length})`];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      const pems = fs.readFileSync(extra, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) || [];
      certificates.push(...pems);
      sources.push(`NODE_EXTRA_CA_CERTS=${extra} (${pems.length})`);
    } catch {
      sources.push(`NODE_EXTRA_CA_CERTS=${extra} (unreadable)`);
    }
  }
  return { certificates, sources };
}

module.exports = { defaultTrust };
