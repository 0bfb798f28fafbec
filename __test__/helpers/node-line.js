'use strict';

// What the running Node line says for the failures whose words differ between lines, as
// measured on each (see src/core/node_words.rs): the suites that assert those words run on every
// line in `npm run test:all` (scripts/node-lines.js), so each expectation is the running line's.

const [major, minor] = process.versions.node.split('.').map(Number);
const [llhttpMajor, llhttpMinor] = (process.versions.llhttp || '9.3').split('.').map(Number);
const atLeast = (a, b, [x, y]) => a > x || (a === x && b >= y);

// Node 23.11+ (nodejs/node#57362) after three OpenSSL verify reasons.
const SYSTEM_CA_HINT = '; if the root CA is installed locally, try running Node.js with --use-system-ca';
const HINTED = new Set(['self-signed certificate', 'unable to verify the first certificate', 'unable to get issuer certificate']);

/** OpenSSL's verify reason as this Node's TLS error words it. */
function verifyReason(reason) {
  return atLeast(major, minor, [23, 11]) && HINTED.has(reason) ? `${reason}${SYSTEM_CA_HINT}` : reason;
}

module.exports = {
  SYSTEM_CA_HINT,
  verifyReason,
  /** llhttp's HPE_INVALID_CONSTANT (RTSP and ICE from llhttp 9.3). */
  NOT_HTTP: atLeast(llhttpMajor, llhttpMinor, [9, 3]) ? 'Expected HTTP/, RTSP/ or ICE/' : 'Expected HTTP/',
  /** llhttp's HPE_INVALID_STATUS (reworded in llhttp 9). */
  INVALID_STATUS: llhttpMajor >= 9 ? 'Invalid status code' : 'Invalid response status',
};
