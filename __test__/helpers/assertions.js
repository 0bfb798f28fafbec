'use strict';

/**
 * Assertions on the errors civic-sip-native throws and rejects with (node:assert/strict).
 *
 *   const { PREFIX, NOT_VERIFIED, assertCivicError, rejectsWith, throwsWith, settle } = require('./helpers/assertions');
 *
 *   PREFIX        'Error exchanging code for data: '
 *   NOT_VERIFIED  'JWT Token containing encrypted data could not be verified'
 *
 *   assertCivicError(err, { message, code, statusCode, body }) -> err
 *     err must be an Error (not merely Error-like) with exactly `message` (a string, or a RegExp
 *     it must match) and `code`. With `statusCode` in the expectation, err.response must be
 *     `{ statusCode, body }` (body may be a RegExp); without it, err must have no `response`.
 *     err never has a top-level `statusCode`, `status` or `body` (an Express or Koa error
 *     handler would answer the browser with Civic's status).
 *   rejectsWith(promise, expected) -> Promise<err>  the promise must reject; checks as above.
 *   throwsWith(fn, expected) -> err                 fn() must throw synchronously; as above.
 *   settle(promise, ms = 5000) -> Promise<{ ok, value?, error?, elapsed }>  waits for the promise
 *     (never rejects) and fails the test if it is still pending after `ms` (timer unref'd/cleared).
 */

const assert = require('node:assert/strict');

const PREFIX = 'Error exchanging code for data: ';
const NOT_VERIFIED = 'JWT Token containing encrypted data could not be verified';

function assertCivicError(err, expected) {
  assert.ok(err instanceof Error, `expected an Error, got ${String(err)}`);
  if (expected.message instanceof RegExp) assert.match(err.message, expected.message);
  else assert.equal(err.message, expected.message);
  assert.equal(err.code, expected.code, `code of: ${err.message}`);
  for (const key of ['statusCode', 'status', 'body']) assert.ok(!(key in err), `no top-level ${key} on: ${err.message}`);
  if ('statusCode' in expected) {
    const { response } = err;
    assert.ok(response && typeof response === 'object', `response of: ${err.message}`);
    assert.deepEqual(Object.keys(response), expected.statusCode === undefined ? ['body'] : ['statusCode', 'body']);
    assert.equal(response.statusCode, expected.statusCode, `statusCode of: ${err.message}`);
    if (expected.body instanceof RegExp) assert.match(response.body, expected.body, `body of: ${err.message}`);
    else assert.equal(response.body, expected.body, `body of: ${err.message}`);
  } else {
    assert.equal(err.response, undefined, `response of: ${err.message}`);
  }
  return err;
}

async function rejectsWith(promise, expected) {
  assert.ok(promise && typeof promise.then === 'function', 'expected a promise');
  let error;
  let resolved = false;
  let value;
  try {
    value = await promise;
    resolved = true;
  } catch (err) {
    error = err;
  }
  assert.ok(!resolved, `expected a rejection, got ${JSON.stringify(value)}`);
  return assertCivicError(error, expected);
}

function throwsWith(fn, expected) {
  let error;
  let threw = false;
  try {
    fn();
  } catch (err) {
    threw = true;
    error = err;
  }
  assert.ok(threw, 'expected a synchronous throw');
  return assertCivicError(error, expected);
}

async function settle(promise, ms = 5000) {
  const start = Date.now();
  let timer;
  const outcome = await Promise.race([
    Promise.resolve(promise).then((value) => ({ ok: true, value }), (error) => ({ ok: false, error })),
    new Promise((resolve) => { timer = setTimeout(() => resolve(null), ms); }),
  ]);
  clearTimeout(timer);
  assert.ok(outcome, `still pending after ${ms} ms`);
  return { ...outcome, elapsed: Date.now() - start };
}

module.exports = { PREFIX, NOT_VERIFIED, assertCivicError, rejectsWith, throwsWith, settle };
