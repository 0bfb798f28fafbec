'use strict';

// The JS face of civic-sip-native: civic-sip-api's API shapes over the native client.
// Only what JS semantics demand lives here (truthiness of options, the callback overload,
// bound methods); the exchange, its messages and its errors are all in Rust.

const { NativeClient, NativeAbort } = require('./binding.js');

/** Stable `error.code` values, one per kind of failure. */
const codes = Object.freeze({
  CONFIG: 'ERR_CIVIC_CONFIG',
  HTTP_STATUS: 'ERR_CIVIC_HTTP_STATUS',
  NETWORK: 'ERR_CIVIC_NETWORK',
  TIMEOUT: 'ERR_CIVIC_TIMEOUT',
  INVALID_RESPONSE: 'ERR_CIVIC_INVALID_RESPONSE',
  VERIFICATION: 'ERR_CIVIC_VERIFICATION',
  DECRYPTION: 'ERR_CIVIC_DECRYPTION',
  INVALID_ARGUMENT: 'ERR_INVALID_ARG_TYPE',
  INTERNAL: 'ERR_CIVIC_INTERNAL',
  RESPONSE_TOO_LARGE: 'ERR_CIVIC_RESPONSE_TOO_LARGE',
  ABORTED: 'ABORT_ERR',
});

const PREFIX = 'Error exchanging code for data: ';

// civic-sip-api tested its options for truthiness and used them as strings.
const text = (value) => (value ? String(value) : undefined);
const number = (value) => (value == null ? undefined : Number(value));

// Node's `ca`: a PEM string or Buffer, or an array of them.
function pems(ca) {
  if (ca == null) return undefined;
  return (Array.isArray(ca) ? ca : [ca]).map((pem) => (Buffer.isBuffer(pem) ? pem.toString('latin1') : String(pem)));
}

function isAbortSignal(signal) {
  return signal !== null && typeof signal === 'object' && typeof signal.aborted === 'boolean'
    && typeof signal.addEventListener === 'function';
}

function invalidArgument(message) {
  const error = new TypeError(`${PREFIX}${message}`);
  error.code = codes.INVALID_ARGUMENT;
  return error;
}

function nativeOptions(config) {
  const c = config == null ? {} : config;
  const proxy = c.proxy && typeof c.proxy === 'object' ? c.proxy : undefined;
  return {
    appId: text(c.appId),
    appSecret: text(c.appSecret),
    prvKey: text(c.prvKey),
    env: text(c.env),
    api: text(c.api),
    includeStageInURL: c.includeStageInURL === undefined ? undefined : Boolean(c.includeStageInURL),
    proxy: proxy && {
      url: text(proxy.url),
      rejectUnauthorized: 'rejectUnauthorized' in proxy ? Boolean(proxy.rejectUnauthorized) : undefined,
    },
    civicPublicKey: text(c.civicPublicKey),
    timeout: number(c.timeout),
    maxResponseBytes: number(c.maxResponseBytes),
    ca: pems(c.ca),
    retries: number(c.retries),
  };
}

/** A Civic SIP client: `new sip(config)` as in Civic's docs, or `newClient(config)`. */
class sip {
  #client;

  constructor(config) {
    this.#client = new NativeClient(nativeOptions(config));
    // Own bound methods, as civic-sip-api's plain object had: `const { exchangeCode } = client` works.
    this.exchangeCode = this.exchangeCode.bind(this);
    this.processPayload = this.processPayload.bind(this);
  }

  exchangeCode(authCode, options, callback) {
    if (typeof options === 'function') [options, callback] = [undefined, options];
    const result = this.#exchange(authCode, options);
    if (typeof callback !== 'function') return result;
    // On the next tick, so an exception thrown by the callback is not swallowed by the promise.
    result.then(
      (userData) => process.nextTick(callback, null, userData),
      (error) => process.nextTick(callback, error),
    );
    return undefined;
  }

  #exchange(authCode, options) {
    const signal = options == null ? undefined : options.signal;
    if (signal === undefined) return this.#client.exchangeCode(authCode);
    if (!isAbortSignal(signal)) {
      return Promise.reject(invalidArgument('the signal option must be an AbortSignal'));
    }
    const abort = new NativeAbort();
    if (signal.aborted) abort.abort();
    const onAbort = () => abort.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    return this.#client.exchangeCode(authCode, abort).then(
      (userData) => {
        signal.removeEventListener('abort', onAbort);
        return userData;
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        // As Node's own AbortErrors do: the reason the signal was aborted with.
        if (error.code === codes.ABORTED) error.cause = signal.reason;
        throw error;
      },
    );
  }

  processPayload(response) {
    const { statusCode, body } = response;
    // civic-sip-api compared with `!== 200` and printed `${statusCode} ${body}`; a 200 body it
    // JSON.parse-d, which reads a Buffer as its text, and took an object as it is.
    if (statusCode !== 200) return this.#client.processPayload(String(statusCode), String(body));
    let text = body;
    if (Buffer.isBuffer(body)) text = body.toString();
    else if (body !== undefined && typeof body !== 'string') text = JSON.stringify(body);
    return this.#client.processPayload(undefined, text);
  }
}

function newClient(config) {
  return new sip(config);
}

module.exports = { newClient, sip, codes };
